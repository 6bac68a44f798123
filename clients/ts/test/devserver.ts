// Test helpers shared by the TypeScript tests: build the tracegate binary and
// run `tracegate dev` on free loopback ports, with its dev token endpoints.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/** The repository root: the nearest folder above this file holding go.mod (works from the sources and from dist/ts). */
export function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "go.mod")) && existsSync(join(dir, "openapi.yaml"))) return dir;
    if (dirname(dir) === dir) throw new Error("repository root (go.mod) not found above " + import.meta.url);
  }
}

export function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const addr = server.address();
      if (addr === null || typeof addr === "string") reject(new Error("no TCP address"));
      else resolve(addr.port);
    });
  });
}

/** A port that was free a moment ago (tracegate gets an address, not a listener). */
export async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

/** Builds ./cmd/tracegate into dir and returns the binary's path. */
export async function buildTracegate(dir: string): Promise<string> {
  const bin = join(dir, "tracegate");
  await promisify(execFile)("go", ["build", "-o", bin, "./cmd/tracegate"], { cwd: repoRoot() });
  return bin;
}

/** Every TRACEGATE_* variable of this process removed, so tests start from defaults. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TRACEGATE_"))), ...extra };
}

export interface DevServer {
  /** The gateway, e.g. http://127.0.0.1:43121 (no trailing slash). */
  base: string;
  /** The stand-in's OTLP/HTTP receiver: POST traces here with X-Scope-OrgID. */
  otlp: string;
  /** The dev tenants' tokens, from /dev/tokens. */
  tokens: Record<string, string>;
  /** Mints a token for the tenants (an array claim for several); ttl like "1h" or "-1h" (expired). */
  mint(tenants: string[], ttl?: string): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `tracegate dev` (binary bin) on free loopback ports and waits until it answers. */
export async function startDev(bin: string, env: Record<string, string> = {}, args: string[] = []): Promise<DevServer> {
  const [port, tempoPort, otlpPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const child: ChildProcess = spawn(
    bin,
    ["dev", "--listen", `127.0.0.1:${port}`, "--tempo-listen", `127.0.0.1:${tempoPort}`, "--otlp-listen", `127.0.0.1:${otlpPort}`, ...args],
    { stdio: ["ignore", "pipe", "pipe"], env: cleanEnv(env) },
  );
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.on("exit", kill); // last resort if the test never stops it
  const base = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tracegate dev exited with ${child.exitCode}:\n${out}`);
    const ok = out.includes("Try:") && (await fetch(`${base}/readyz`).then((r) => r.status === 200, () => false));
    if (ok) break;
    if (Date.now() > deadline) {
      kill();
      throw new Error(`tracegate dev did not get ready within 30s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const list = (await (await fetch(`${base}/dev/tokens`)).json()) as { tokens: { tenant: string; token: string }[] };
  return {
    base,
    otlp: `http://127.0.0.1:${otlpPort}/v1/traces`,
    tokens: Object.fromEntries(list.tokens.map((t) => [t.tenant, t.token])),
    async mint(tenants, ttl) {
      const q = new URLSearchParams(tenants.map((t) => ["tenant", t]));
      if (ttl !== undefined) q.set("ttl", ttl);
      const res = await fetch(`${base}/dev/token?${q}`);
      if (res.status !== 200) throw new Error(`/dev/token: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { token: string }).token;
    },
    output: () => out,
    async stop() {
      process.off("exit", kill);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(kill, 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
