// Build the customer widget, the agent console and the demo host page into dist/ (served by the gateway).
//   node build.mjs           one build
//   node build.mjs --watch   rebuild on change
import * as esbuild from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");
const watch = process.argv.includes("--watch");

const common = {
  bundle: true,
  minify: !watch,
  sourcemap: true,
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  // The widget's stylesheet is injected into its shadow root, so it ships inside widget.js.
  loader: { ".css": "text" },
  logLevel: "info",
  legalComments: "linked",
};

const builds = [
  // One <script> tag on any host page: window.HelpdeskWidget.init({...}).
  { entryPoints: { widget: join(root, "src/widget/index.js") }, format: "iife", globalName: "HelpdeskWidget", sourcemap: false },
  { entryPoints: { console: join(root, "src/console/index.js") }, format: "iife" },
  { entryPoints: { demo: join(root, "src/pages/demo.js") }, format: "iife" },
];

const pages = [
  ["src/pages/index.html", "index.html"],
  ["src/pages/console.html", "console.html"],
  ["src/pages/demo.css", "demo.css"],
  ["src/console/console.css", "console.css"],
];

async function copyPages() {
  for (const [from, to] of pages) await copyFile(join(root, from), join(dist, to));
}

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await copyPages();
if (watch) {
  for (const b of builds) {
    const ctx = await esbuild.context({ ...common, ...b, outdir: dist });
    await ctx.watch();
  }
  console.log("watching src/ (pages are copied once; restart to pick up HTML changes)");
} else {
  await Promise.all(builds.map((b) => esbuild.build({ ...common, ...b, outdir: dist })));
}
