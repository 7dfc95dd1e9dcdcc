// Browser storage keys of the console.
export const TOKEN_KEY = "support-console.token";
// The presence this agent chose in this tab ("online" or absent): a reconnect or reload keeps it, a sign-in does not.
export const PRESENCE_KEY = "support-console.presence";
