// Build the customer widget, the agent console and the demo pages into dist/ (served by the gateway).
//   node build.mjs           one build, plus widget.js.gz and widget.js.br (precompressed, see compress())
//   node build.mjs --watch   rebuild on change (no precompressed copies: they would go stale)
import * as esbuild from "esbuild";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { brotliCompress, constants as zlib, gzip } from "node:zlib";

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
  // One <script> tag on any host page. It installs window.HelpdeskWidget itself (replaying the async snippet's queue),
  // so no globalName: esbuild's `var HelpdeskWidget = ...` would replace the snippet's stub before the replay.
  { entryPoints: { widget: join(root, "src/widget/index.js") }, format: "iife", sourcemap: false },
  { entryPoints: { console: join(root, "src/console/index.js") }, format: "iife" },
  { entryPoints: { demo: join(root, "src/pages/demo.js"), api: join(root, "src/pages/api.js") }, format: "iife" },
];

// Served precompressed (Content-Encoding) to browsers that accept it: the script every host page loads.
const PRECOMPRESSED = ["widget.js"];

const pages = [
  ["src/pages/index.html", "index.html"],
  ["src/pages/console.html", "console.html"],
  ["src/pages/api.html", "api.html"],
  ["src/pages/demo.css", "demo.css"],
  ["src/console/console.css", "console.css"],
];

async function copyPages() {
  for (const [from, to] of pages) await copyFile(join(root, from), join(dist, to));
}

/** name.gz (gzip -9) and name.br (brotli, best) next to each file in PRECOMPRESSED, with node's own zlib. */
async function compress() {
  for (const name of PRECOMPRESSED) {
    const data = await readFile(join(dist, name));
    const [gz, br] = await Promise.all([
      promisify(gzip)(data, { level: zlib.Z_BEST_COMPRESSION }),
      promisify(brotliCompress)(data, {
        params: { [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY, [zlib.BROTLI_PARAM_SIZE_HINT]: data.length },
      }),
    ]);
    await writeFile(join(dist, `${name}.gz`), gz);
    await writeFile(join(dist, `${name}.br`), br);
    const kb = (n) => `${(n / 1024).toFixed(1)}kb`;
    console.log(`  dist/${name}  ${kb(data.length)}  .gz ${kb(gz.length)}  .br ${kb(br.length)}`);
  }
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
  await compress();
}
