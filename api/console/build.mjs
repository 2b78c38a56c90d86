// Copies the pinned packages' browser builds from node_modules/ into vendor/, which the API
// serves at /console/vendor/. vendor/ and node_modules/ are build output (gitignored): the
// repository holds no third-party code, and the console needs no internet at run time.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "vendor");
const FILES = [
  ["uplot/dist/uPlot.iife.min.js", "uPlot.iife.min.js"],
  ["uplot/dist/uPlot.min.css", "uPlot.min.css"],
  ["uplot/LICENSE", "uPlot.LICENSE"],
];

mkdirSync(out, { recursive: true });
for (const [from, to] of FILES) copyFileSync(join(here, "node_modules", from), join(out, to));
const version = JSON.parse(readFileSync(join(here, "node_modules/uplot/package.json"))).version;
writeFileSync(join(out, "manifest.json"), JSON.stringify({ uplot: version }) + "\n");
console.log(`console vendor/: uPlot ${version}`);
