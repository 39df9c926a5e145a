// Builds static/widget/widget.js and static/widget/widget-<version>.js (minified IIFE) and fails
// when the gzipped size reaches the 6 KB budget.
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const BUDGET = 6 * 1024;
const here = dirname(fileURLToPath(import.meta.url));
const { version } = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
const outDir = join(here, "..", "static", "widget");

export async function bundle() {
  const result = await build({
    entryPoints: [join(here, "src", "index.js")],
    bundle: true,
    minify: true,
    format: "iife",
    target: ["es2020"],
    legalComments: "none",
    banner: { js: `/* perpvol widget ${version} (MIT) */` },
    write: false,
  });
  return result.outputFiles[0].text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const code = await bundle();
  const gzipped = gzipSync(code, { level: 9 }).length;
  mkdirSync(outDir, { recursive: true });
  for (const name of ["widget.js", `widget-${version}.js`]) writeFileSync(join(outDir, name), code);
  console.log(`widget ${version}: ${code.length} bytes, ${gzipped} bytes gzipped (budget ${BUDGET})`);
  if (gzipped >= BUDGET) {
    console.error(`FAIL: the widget is ${gzipped} bytes gzipped, over the ${BUDGET}-byte budget`);
    process.exit(1);
  }
}
