// The agent console (/console): login, presence, queue with SLA countdowns, live bot conversations, the
// conversation view with the summary card, transcript, customer panel, composer (canned replies, private notes)
// and the actions (claim, transfer, escalate to L3, resolve, hand back, "had to ask again"); the Scorecards and
// Needs training pages (#scorecards, #needs-training). One module per screen or concern; app.js puts them together.
import { Console } from "./app.js";

new Console(document.getElementById("app")).start();
