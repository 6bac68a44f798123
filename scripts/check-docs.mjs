#!/usr/bin/env node
// Checks the built API reference (docs/api/index.html) the way a person meets
// it: served over HTTP at /docs/ with the Content-Security-Policy of
// docs/api/csp.txt (as tracegate serves it), opened in headless Chromium that
// cannot resolve any host but 127.0.0.1. It fails unless
//   - the page loads nothing from anywhere (no <script src>, <link href>,
//     remote url()/@import in the file, no request but /docs/ itself),
//   - csp.txt is the policy this page needs (scripts/docs-csp.mjs),
//   - the browser reports no script error and no CSP violation, except the
//     known one below,
//   - every operation of openapi.yaml (its summary, or operationId, and its
//     path) is shown; Redoc 3 shows operations on per-tag pages that only the
//     client-side app renders, so this also proves the page's JavaScript ran.
// The expected operations come from openapi.yaml (bundled by redocly), so new
// operations are covered without editing this file.
//
// Usage: node scripts/check-docs.mjs     (needs Debian's `chromium`; CHROMIUM=path overrides)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { docsCsp } from './docs-csp.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pageFile = join(root, 'docs/api/index.html');
const cspFile = join(root, 'docs/api/csp.txt');
const chromium = process.env.CHROMIUM || 'chromium';
// Redoc 3's sidebar footer ("API docs by <logo>") always renders an <img> from
// Redocly's CDN; no build option or template removes it. The CSP blocks it and
// Redoc then hides the image, so it costs nothing but this console message.
const knownBlocked = new Set([
  'https://cdn.redoc.ly/redoc/logo-mini-full.svg',
  'https://cdn.redoc.ly/redoc/logo-mini.svg',
]);

const started = performance.now();
const failures = [];
const fail = (msg) => failures.push(msg);
const secs = () => ((performance.now() - started) / 1000).toFixed(1) + 's';

function run(cmd, args, { env, timeoutMs = 60_000 } = {}) {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      rejectRun(new Error(`${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolveRun({ stdout, stderr });
      else rejectRun(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? 'exit ' + code}):\n${stderr.slice(-2000)}`));
    });
  });
}

async function expectedOperations() {
  const { stdout } = await run(join(root, 'node_modules/.bin/redocly'), ['bundle', 'openapi.yaml', '--ext', 'json'], {
    env: { REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  });
  const spec = JSON.parse(stdout);
  const ops = [];
  for (const [path, item] of Object.entries(spec.paths ?? {})) {
    for (const method of ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']) {
      const op = item[method];
      if (op) ops.push({ method, path, label: op.summary ?? op.operationId, operationId: op.operationId });
    }
  }
  return { title: spec.info.title, ops };
}

function visibleText(html) {
  const entities = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
  return html
    .replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, ' ')
    .replace(/<style\b[^>]*>[\s\S]*?<\/style>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e) =>
      e[0] !== '#' ? entities[e.toLowerCase()] ?? m : String.fromCodePoint(e[1].toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1))),
    )
    .replace(/\s+/g, ' ');
}

async function dumpDom(url) {
  const profile = mkdtempSync(join(tmpdir(), 'check-docs-chromium-'));
  try {
    const { stdout, stderr } = await run(chromium, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`,
      // Nothing but the local server is reachable, whatever the page tries.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      // Console messages (script errors, CSP violations) go to stderr.
      '--enable-logging=stderr', '--v=0',
      // Let the client-side app finish rendering before the DOM is dumped.
      '--virtual-time-budget=5000',
      '--dump-dom', url,
    ]);
    return { dom: stdout, console: stderr };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

function checkConsole(url, log) {
  for (const m of log.matchAll(/(?:Loading|Refused to load) the \w+ '([^']+)'[^\n]*Content Security Policy/g)) {
    if (!knownBlocked.has(m[1])) fail(`${url}: CSP blocked ${m[1]}`);
  }
  for (const line of log.split('\n')) {
    if (/Content Security Policy/.test(line) && !/(Loading|Refused to load) the \w+ '/.test(line)) fail(`${url}: CSP: ${line.trim()}`);
    if (/Uncaught|CONSOLE.*Error:/.test(line)) fail(`${url}: script error: ${line.trim()}`);
  }
}

const html = readFileSync(pageFile, 'utf8');
const csp = readFileSync(cspFile, 'utf8').trim();

// 1. The file references nothing outside itself.
for (const [what, re] of [
  ['<script src>', /<script\b[^>]*\bsrc\s*=/i],
  ['<link href>', /<link\b[^>]*\bhref\s*=/i],
  ['remote CSS url()', /url\(\s*['"]?(https?:)?\/\//i],
  ['remote CSS @import', /@import\s+(url\()?\s*['"]?(https?:)?\/\//i],
]) {
  if (re.test(html)) fail(`docs/api/index.html contains a ${what}: the page must be self-contained (--inlineBundle)`);
}
if (docsCsp(html) !== csp) fail('docs/api/csp.txt does not match docs/api/index.html: run `npm run build:docs`');

// 2. Serve it like tracegate does and look at it in Chromium.
const unexpected = [];
let shownOps = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET' && (req.url === '/docs' || req.url === '/docs/')) {
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': csp,
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(html);
    return;
  }
  if (req.url !== '/favicon.ico') unexpected.push(`${req.method} ${req.url}`);
  res.writeHead(404).end();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/docs/`;

try {
  const [{ title, ops }, overview] = await Promise.all([expectedOperations(), dumpDom(base)]);
  checkConsole(base, overview.console);
  const texts = [visibleText(overview.dom)];
  if (!texts[0].includes(title)) fail(`${base}: the overview does not show the API title "${title}"`);
  // The sidebar's links to client-side routes (one page per tag); /section/*
  // are headings of the overview itself.
  const routes = [...new Set([...overview.dom.matchAll(/href="(\/[^"#]+)"/g)].map((m) => m[1]))].filter(
    (r) => !r.startsWith('/section/'),
  );
  if (routes.length === 0) fail(`${base}: no sidebar links to tag pages found`);
  const pages = await Promise.all(routes.map((r) => dumpDom(`${base}#${r}`).then((p) => ({ url: `${base}#${r}`, ...p }))));
  for (const p of pages) {
    checkConsole(p.url, p.console);
    texts.push(visibleText(p.dom));
  }
  const all = texts.join('\n');
  for (const op of ops) {
    const shown = all.includes(op.label) && all.includes(op.path);
    if (shown) shownOps++;
    console.log(`${shown ? 'ok  ' : 'MISSING'} ${op.method.toUpperCase()} ${op.path}  "${op.label}" (${op.operationId})`);
    if (!shown) fail(`operation ${op.operationId} ("${op.label}", ${op.method.toUpperCase()} ${op.path}) is not shown`);
  }
  if (ops.length === 0) fail('openapi.yaml has no operations?');
  console.log(`checked ${ops.length} operations on ${pages.length + 1} pages (${routes.join(', ')})`);
} catch (err) {
  fail(err.message);
} finally {
  server.close();
}
for (const u of unexpected) fail(`the page requested ${u} from its server`);

if (failures.length) console.error(`FAILED in ${secs()}:\n  ${failures.join('\n  ')}`);
else console.log(`ok in ${secs()}`);
// A closing line CI tools read: operations shown, problems found.
console.log(`check-docs: ${shownOps} passed, ${failures.length} failed`);
process.exitCode = failures.length ? 1 : 0;
