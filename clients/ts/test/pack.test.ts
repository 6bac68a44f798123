// The package as an app gets it: `npm pack`, install the tarball into a
// scratch app outside the source tree, type-check the READMEs' examples as
// written with moduleResolution bundler and nodenext, then run the package
// README's example against a live `tracegate dev`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import { spansOf, type Trace } from "@tracegate/client";

import { buildTracegate, repoRoot, startDev, type DevServer } from "./devserver.js";

const exec = promisify(execFile);
const root = repoRoot();
const ACME_CHECKOUT = "4bf92f3577b34da6a3ce929d0e0e4736";

/** The ```ts blocks of a Markdown file. */
function tsBlocks(file: string): string[] {
  return [...readFileSync(file, "utf8").matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string);
}

const tsconfig = (resolution: "bundler" | "nodenext") => ({
  compilerOptions: {
    strict: true,
    target: "ES2022",
    module: resolution === "bundler" ? "ESNext" : "NodeNext",
    moduleResolution: resolution,
    lib: ["ES2022", "DOM"],
    types: [],
    skipLibCheck: false,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    outDir: `out-${resolution}`,
    ...(resolution === "bundler" ? { noEmit: true } : {}),
  },
  include: ["*.ts"],
});

describe("@tracegate/client packed and installed into a scratch app", () => {
  let tmp = "";
  let app = "";
  let files: string[] = [];
  let dev: DevServer | undefined;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "tracegate-pack-"));
    const { stdout } = await exec("npm", ["pack", "--json", "--pack-destination", tmp, "-w", "@tracegate/client"], { cwd: root });
    const packed = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    const tarball = join(tmp, packed[0]?.filename ?? "");
    files = (packed[0]?.files ?? []).map((f) => f.path).sort();

    app = join(tmp, "app");
    mkdirSync(app);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "scratch-app", private: true, type: "module", dependencies: { "@tracegate/client": `file:${tarball}` } }, null, 2),
    );
    await exec("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], { cwd: app });

    const blocks = [...tsBlocks(join(root, "clients/ts/README.md")), ...tsBlocks(join(root, "README.md"))];
    assert.ok(blocks.length >= 2, "the package README and the README should each have a ```ts example");
    blocks.forEach((code, i) => writeFileSync(join(app, `readme${i}.ts`), code));
    writeFileSync(
      join(app, "main.ts"),
      [
        'import { outline } from "./readme0.js";',
        "declare const process: { argv: string[] };",
        'const [baseUrl = "", token = "", traceId = ""] = process.argv.slice(2);',
        'console.log(JSON.stringify(await outline(baseUrl, token, traceId).catch((e: Error) => ["ERROR " + e.message])));',
        "",
      ].join("\n"),
    );
    writeFileSync(join(app, "tsconfig.bundler.json"), JSON.stringify(tsconfig("bundler"), null, 2));
    writeFileSync(join(app, "tsconfig.nodenext.json"), JSON.stringify(tsconfig("nodenext"), null, 2));

    dev = await startDev(await buildTracegate(tmp));
  }, { timeout: 300_000 });

  after(async () => {
    await dev?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("the tarball holds the built package and nothing else", () => {
    for (const f of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/client.js", "dist/schema.d.ts", "dist/trace.d.ts"]) {
      assert.ok(files.includes(f), `${f} is not in the tarball: ${files.join(", ")}`);
    }
    for (const f of files) assert.match(f, /^(package\.json|README\.md|dist\/[\w.-]+\.(js|d\.ts))$/, `unexpected file in the tarball: ${f}`);
    const installed = JSON.parse(readFileSync(join(app, "node_modules/@tracegate/client/package.json"), "utf8")) as { version: string };
    const ours = JSON.parse(readFileSync(join(root, "clients/ts/package.json"), "utf8")) as { version: string };
    assert.equal(installed.version, ours.version);
  });

  for (const resolution of ["bundler", "nodenext"] as const) {
    test(`the README examples type-check with moduleResolution ${resolution}`, async () => {
      const tsc = join(root, "node_modules/.bin/tsc");
      const r = await exec(tsc, ["-p", `tsconfig.${resolution}.json`], { cwd: app }).catch((e: { stdout: string; stderr: string }) => e);
      assert.equal(r.stdout + r.stderr, "", "tsc reported errors");
    });
  }

  test("the example runs against a live tracegate and lists every span of acme's checkout trace", async () => {
    assert.ok(dev);
    const run = (token: string, id: string) =>
      exec("node", [join(app, "out-nodenext/main.js"), dev?.base ?? "", token, id], { cwd: app }).then((r) => JSON.parse(r.stdout) as string[]);
    const lines = await run(dev.tokens["acme"] ?? "", ACME_CHECKOUT);
    const trace = (await (await fetch(`${dev.base}/api/v1/traces/${ACME_CHECKOUT}`, { headers: { Authorization: `Bearer ${dev.tokens["acme"]}` } })).json()) as Trace;
    const names = spansOf(trace).map((s) => s.name ?? "");
    assert.ok(names.length > 1);
    assert.equal(lines.length, names.length);
    for (const name of names) assert.ok(lines.some((l) => l.includes(`: ${name} (`)), `no line for span ${name}: ${lines.join("\n")}`);
    assert.match(lines[0] ?? "", /^frontend: \S/); // the root, not indented
    assert.ok(lines.some((l) => l.startsWith("  ")), "no indented child span");
    // As globex, acme's trace does not exist: plain words, not a crash.
    assert.deepEqual(await run(dev.tokens["globex"] ?? "", ACME_CHECKOUT), ["ERROR Not found: it does not exist, or it is not yours."]);
  });
});
