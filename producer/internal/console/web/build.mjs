// Builds the console into ../dist (committed, embedded by the producer):
// src/main.js and everything it imports bundled and minified by esbuild, the
// 3D viewer (three.js) split into its own chunk loaded on demand, file names
// content-hashed, and index.html pointing at them.
//
//   node build.mjs            write ../dist
//   node build.mjs --out DIR  write DIR instead (the Go test compares a rebuild)
import * as esbuild from 'esbuild';
import { readFileSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const i = process.argv.indexOf('--out');
const out = i > 0 ? process.argv[i + 1] : join(here, '..', 'dist');

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
const res = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ['src/main.js', 'src/style.css'],
  bundle: true,
  splitting: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
  minify: true,
  legalComments: 'eof', // keeps three.js's MIT notice in the bundle
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: '[name]-[hash]',
  metafile: true,
  write: true,
  logLevel: 'warning',
});
const outputs = Object.entries(res.metafile.outputs);
const entry = (src) => basename(outputs.find(([, o]) => o.entryPoint === src)[0]);
const html = readFileSync(join(here, 'src', 'index.html'), 'utf8')
  .replace('{{js}}', entry('src/main.js'))
  .replace('{{css}}', entry('src/style.css'));
writeFileSync(join(out, 'index.html'), html);
for (const [path, o] of outputs) console.log(`${basename(path).padEnd(28)} ${String(o.bytes).padStart(8)} bytes`);
