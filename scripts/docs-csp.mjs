#!/usr/bin/env node
// Writes docs/api/csp.txt: the Content-Security-Policy header value that
// docs/api/index.html (built by `redocly build-docs --inlineBundle`) needs.
//
// The page is one self-contained file: its scripts are inline (a tiny
// colour-mode script and the Redoc bundle plus the embedded API definition),
// so script-src lists their SHA-256 hashes instead of 'unsafe-inline'. The
// hashes change whenever the page does; `npm run build:docs` rewrites both
// files together. Serve csp.txt's content verbatim as the header of GET /docs.
//
// Usage: node scripts/docs-csp.mjs [docs/api/index.html]   (run by build:docs)
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The CSP header value for the given built page. */
export function docsCsp(html) {
  // Inside the inline bundle every "</script" is escaped ("<\/script"), so
  // the first closing tag after an opening one ends that script.
  const hashes = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi)].map(
    (m) => `'sha256-${createHash('sha256').update(m[1], 'utf8').digest('base64')}'`,
  );
  if (hashes.length === 0) throw new Error('no inline <script> found: not a redocly build-docs page?');
  return [
    "default-src 'self'",
    `script-src ${hashes.join(' ')}`,
    // styled-components injects <style> elements and the server-rendered
    // markup carries style="" attributes: both need 'unsafe-inline'.
    "style-src 'self' 'unsafe-inline'",
    // Inline SVG icons (data:image/svg+xml) and the icon font (data: woff).
    "img-src 'self' data:",
    "font-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const page = resolve(process.argv[2] ?? join(root, 'docs/api/index.html'));
  const out = join(dirname(page), 'csp.txt');
  writeFileSync(out, docsCsp(readFileSync(page, 'utf8')) + '\n');
  console.log(`wrote ${out}`);
}
