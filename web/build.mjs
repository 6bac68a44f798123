#!/usr/bin/env node
// Builds the trace explorer into web/dist (committed; the binary embeds it):
// app.js (src/main.ts and @tracegate/client, bundled and minified), app.css,
// index.html, and dev.json (no dev tokens: `tracegate dev` answers that path
// itself). The output depends only on the sources and the pinned esbuild, so
// a rebuild is byte-identical (gen-check fails on any drift).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
rmSync(out, { recursive: true, force: true });
mkdirSync(out);

await build({
  absWorkingDir: here,
  entryPoints: { app: 'src/main.ts' },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
  platform: 'browser',
  legalComments: 'none',
  charset: 'utf8',
  sourcemap: false,
  outdir: out,
  logLevel: 'warning',
});
await build({
  absWorkingDir: here,
  entryPoints: { app: 'src/app.css' },
  bundle: true,
  minify: true,
  target: ['chrome110', 'firefox115', 'safari16'],
  legalComments: 'none',
  charset: 'utf8',
  outdir: out,
  logLevel: 'warning',
});
copyFileSync(join(here, 'src/index.html'), join(out, 'index.html'));
writeFileSync(join(out, 'dev.json'), '{"tokens":[]}\n');

let total = 0;
for (const f of ['index.html', 'app.js', 'app.css']) {
  const b = readFileSync(join(out, f));
  const gz = gzipSync(b, { level: 9 }).length;
  total += gz;
  console.log(`web/dist/${f}: ${b.length} bytes, ${gz} gzipped`);
}
console.log(`web/dist: ${total} bytes gzipped in all`);
