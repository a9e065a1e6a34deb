// The eemeli/yaml (npm "yaml") peer of `kpin set -f`, for bench/run.sh.
//
//   node yaml-set.mjs FILE NAME DIGEST   set images[name=NAME].digest, rewrite FILE
//   node yaml-set.mjs --batch JOBS       one job per line: IN<TAB>OUT<TAB>NAME<TAB>DIGEST
//                                        (read IN, write OUT; a failed job writes
//                                        nothing and is reported on stderr)
//
// What a careful script author would write: parseDocument (the CST-backed
// document API that keeps comments), set the key on the entry, String(doc),
// with the library's default options.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';

function setDigest(src, name, digest) {
  const doc = parseDocument(src);
  if (doc.errors.length > 0) throw doc.errors[0];
  const images = doc.get('images');
  if (!images || !Array.isArray(images.items))
    throw new Error('no images sequence');
  const entry = images.items.find(
    (e) => e && typeof e.get === 'function' && e.get('name') === name);
  if (!entry) throw new Error(`no images entry named ${name}`);
  entry.set('digest', digest);
  return String(doc);
}

function edit(pathIn, pathOut, name, digest) {
  const src = readFileSync(pathIn, 'utf8');
  writeFileSync(pathOut, setDigest(src, name, digest));
}

const argv = process.argv.slice(2);
if (argv.length === 2 && argv[0] === '--batch') {
  let failed = 0;
  for (const line of readFileSync(argv[1], 'utf8').split('\n')) {
    if (line === '') continue;
    const [pathIn, pathOut, name, digest] = line.split('\t');
    try {
      edit(pathIn, pathOut, name, digest);
    } catch (e) {
      failed++;
      const msg = String(e && e.message ? e.message : e)
        .replace(/\n/g, ' ').slice(0, 200);
      process.stderr.write(`${pathIn}\t${name}\t${msg}\n`);
    }
  }
  process.stderr.write(`yaml-set: ${failed} job(s) failed\n`);
} else if (argv.length === 3) {
  edit(argv[0], argv[0], argv[1], argv[2]);
} else {
  process.stderr.write('usage: node yaml-set.mjs FILE NAME DIGEST | --batch JOBS\n');
  process.exit(2);
}
