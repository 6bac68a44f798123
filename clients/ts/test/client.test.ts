// End-to-end test of the typed client against a real tracegate binary, the
// frontend's path: client -> tracegate -> (JWKS, Tempo). The test builds
// ./cmd/tracegate, and starts on 127.0.0.1 random ports:
//   - a JWKS server with an ES256 key generated here (tokens are signed here),
//   - a fake Tempo replaying recorded answers from testdata/tempo/fixtures,
//   - `tracegate serve`, configured through TRACEGATE_* variables.
// Then, through the typed client: a trace, an unknown trace (404 problem), a
// request without a token (401 challenge) and the embedded reference (/docs).
// Everything it starts is stopped in after(), and on exit as a last resort.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { createTracegateClient, isProblem, spansOf, type TracegateClient } from "@tracegate/client";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const UNKNOWN_ID = "0123456789abcdef0123456789abcdef";
const TENANT = "acme";
const ISSUER = "https://idp.test/";
const AUDIENCE = "tracegate-e2e";

/** The repository root: the nearest folder above this file holding go.mod (works from clients/ts and dist/ts/clients/ts). */
function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "go.mod")) && existsSync(join(dir, "openapi.yaml"))) return dir;
    if (dirname(dir) === dir) throw new Error("repository root (go.mod) not found above " + import.meta.url);
  }
}

// ---- servers started by the test ------------------------------------------

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      if (addr === null || typeof addr === "string") reject(new Error("no TCP address"));
      else resolve(addr.port);
    });
  });
}

/** A port that was free a moment ago (tracegate gets an address, not a listener). */
async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

interface Fixture {
  response: { status: number; headers: Record<string, string>; body?: string; body_base64?: string };
}

function loadFixture(root: string, name: string): { status: number; headers: Record<string, string>; body: Buffer } {
  const f = JSON.parse(readFileSync(join(root, "testdata/tempo/fixtures", name), "utf8")) as Fixture;
  const body = f.response.body_base64 !== undefined ? Buffer.from(f.response.body_base64, "base64") : Buffer.from(f.response.body ?? "");
  // Framing headers are the server's business; everything else as recorded.
  const headers = Object.fromEntries(
    Object.entries(f.response.headers).filter(([k]) => !/^(content-length|connection|transfer-encoding)$/i.test(k)),
  );
  return { status: f.response.status, headers, body };
}

interface ES256Key {
  privateKey: KeyObject;
  kid: string;
  jwks: string;
}

function es256Key(): ES256Key {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const kid = randomUUID();
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg: "ES256", use: "sig" };
  return { privateKey, kid, jwks: JSON.stringify({ keys: [jwk] }) };
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

/** A compact JWS (ES256: raw r||s signature, not DER). */
function signJWT(key: ES256Key, claims: Record<string, unknown>): string {
  const input = `${b64url(JSON.stringify({ alg: "ES256", typ: "JWT", kid: key.kid }))}.${b64url(JSON.stringify(claims))}`;
  const sig = sign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${b64url(sig)}`;
}

function tokenFor(key: ES256Key, tenant: string): string {
  const now = Math.floor(Date.now() / 1000);
  return signJWT(key, { iss: ISSUER, aud: AUDIENCE, sub: "e2e-user", iat: now, exp: now + 600, tenant_id: tenant });
}

// ---- the test -------------------------------------------------------------

describe("tracegate through the typed TypeScript client", () => {
  const root = repoRoot();
  const key = es256Key();
  const servers: Server[] = [];
  const tempoRequests: { path: string; headers: IncomingHttpHeaders }[] = [];
  let tmp = "";
  let tracegate: ChildProcess | undefined;
  let tracegateOutput = "";
  let baseUrl = "";

  const killTracegate = () => {
    if (tracegate && tracegate.exitCode === null && tracegate.signalCode === null) tracegate.kill("SIGKILL");
  };
  // Last resorts if after() never runs: normal exit, Ctrl-C, a CI timeout.
  process.on("exit", killTracegate);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      killTracegate();
      process.exit(130);
    });
  }

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "tracegate-e2e-"));
    const bin = join(tmp, "tracegate");
    await promisify(execFile)("go", ["build", "-o", bin, "./cmd/tracegate"], { cwd: root });

    const jwks = createServer((req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" }).end(key.jwks);
    });
    const found = loadFixture(root, "trace-v2-protobuf-found.json");
    const empty = loadFixture(root, "trace-v2-protobuf-other-tenant.json");
    const tempo = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://tempo").pathname;
      tempoRequests.push({ path, headers: req.headers });
      const f = req.method === "GET" && path === `/api/v2/traces/${TRACE_ID}` && req.headers["x-scope-orgid"] === TENANT ? found : empty;
      res.writeHead(f.status, f.headers).end(f.body);
    });
    servers.push(jwks, tempo);
    const [jwksPort, tempoPort, port] = await Promise.all([listen(jwks), listen(tempo), freePort()]);

    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TRACEGATE_")));
    tracegate = spawn(bin, ["serve"], {
      cwd: tmp,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...env,
        TRACEGATE_LISTEN_ADDR: `127.0.0.1:${port}`,
        TRACEGATE_TEMPO_URL: `http://127.0.0.1:${tempoPort}`,
        TRACEGATE_JWKS_URL: `http://127.0.0.1:${jwksPort}/.well-known/jwks.json`,
        TRACEGATE_JWT_ISSUER: ISSUER,
        TRACEGATE_JWT_AUDIENCE: AUDIENCE,
      },
    });
    tracegate.stdout?.on("data", (d) => (tracegateOutput += d));
    tracegate.stderr?.on("data", (d) => (tracegateOutput += d));
    baseUrl = `http://127.0.0.1:${port}`;

    // Ready when GET /healthz answers 200.
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (tracegate.exitCode !== null) throw new Error(`tracegate exited with ${tracegate.exitCode}:\n${tracegateOutput}`);
      const ok = await fetch(`${baseUrl}/healthz`).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`tracegate did not answer GET /healthz 200 within 20s:\n${tracegateOutput}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, { timeout: 300_000 });

  after(async () => {
    if (tracegate && tracegate.exitCode === null && tracegate.signalCode === null) {
      const exited = new Promise((r) => tracegate?.once("exit", r));
      tracegate.kill("SIGTERM");
      const timer = setTimeout(killTracegate, 5_000);
      await exited;
      clearTimeout(timer);
    }
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const client = (token: string): TracegateClient => createTracegateClient(baseUrl, () => token);

  test("GET a trace: 200, OTLP/JSON with 9 spans", async () => {
    const { data, error, response } = await client(tokenFor(key, TENANT)).GET("/api/v1/traces/{trace_id}", {
      params: { path: { trace_id: TRACE_ID } },
    });
    assert.equal(error, undefined, `unexpected error body: ${JSON.stringify(error)}\n${tracegateOutput}`);
    assert.equal(response.status, 200);
    assert.ok(data);
    assert.equal(data.traceId, TRACE_ID);
    assert.equal(data.partial, false);
    const spans = spansOf(data);
    assert.equal(spans.length, 9);
    for (const span of spans) {
      assert.match(span.spanId ?? "", /^[0-9a-f]{16}$/);
      assert.equal(span.traceId, TRACE_ID);
    }
    // tracegate asked Tempo for the token's tenant.
    const asked = tempoRequests.filter((r) => r.path === `/api/v2/traces/${TRACE_ID}`);
    assert.ok(asked.length > 0, "Tempo was not asked for the trace");
    assert.ok(asked.every((r) => r.headers["x-scope-orgid"] === TENANT));
  });

  test("GET an unknown trace: 404 problem+json", async () => {
    const { data, error, response } = await client(tokenFor(key, TENANT)).GET("/api/v1/traces/{trace_id}", {
      params: { path: { trace_id: UNKNOWN_ID } },
    });
    assert.equal(data, undefined);
    assert.equal(response.status, 404);
    assert.match(response.headers.get("Content-Type") ?? "", /^application\/problem\+json\b/);
    assert.ok(isProblem(error), `not a problem document: ${JSON.stringify(error)}`);
    assert.equal(error.status, 404);
    assert.equal(error.title, "Not Found");
    assert.equal(typeof error.detail, "string");
    assert.ok(error.detail);
    assert.equal(error.instance, response.headers.get("X-Request-Id"));
  });

  test("GET a trace without a token: 401 with a Bearer challenge", async () => {
    const before = tempoRequests.length;
    const { data, error, response } = await client("").GET("/api/v1/traces/{trace_id}", {
      params: { path: { trace_id: TRACE_ID } },
    });
    assert.equal(data, undefined);
    assert.equal(response.status, 401);
    assert.equal(response.headers.get("WWW-Authenticate"), 'Bearer realm="tracegate"');
    assert.match(response.headers.get("Content-Type") ?? "", /^application\/problem\+json\b/);
    assert.ok(isProblem(error));
    assert.equal(error.status, 401);
    assert.equal(tempoRequests.length, before, "tracegate called Tempo for an unauthenticated request");
  });

  test("GET /docs: the built reference with the CSP it needs", async () => {
    const { data, response } = await client("").GET("/docs", { parseAs: "text" });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("Content-Type") ?? "", /^text\/html\b/);
    assert.equal(response.headers.get("Content-Security-Policy"), readFileSync(join(root, "docs/api/csp.txt"), "utf8").trim());
    assert.equal(data, readFileSync(join(root, "docs/api/index.html"), "utf8"));
  });
});
