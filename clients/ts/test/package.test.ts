// The @tracegate/client package as published: its package.json and its
// version, which must be the API contract's (openapi.yaml info.version).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { repoRoot } from "./devserver.js";

const root = repoRoot();
const pkg = JSON.parse(readFileSync(join(root, "clients/ts/package.json"), "utf8")) as Record<string, unknown>;

test("the package version is openapi.yaml's info.version", () => {
  const spec = readFileSync(join(root, "openapi.yaml"), "utf8");
  const m = /^info:\n(?:[ ].*\n)*?[ ]+version:\s*['"]?([^'"\s]+)['"]?\s*$/m.exec(spec);
  assert.ok(m, "openapi.yaml: no info.version");
  assert.equal(pkg["version"], m[1]);
  // The web app depends on exactly this version (a workspace link).
  const web = JSON.parse(readFileSync(join(root, "web/package.json"), "utf8")) as { dependencies: Record<string, string> };
  assert.equal(web.dependencies["@tracegate/client"], m[1]);
});

test("package.json: name, ESM, exports with types and import, files, openapi-fetch range, licence", () => {
  assert.equal(pkg["name"], "@tracegate/client");
  assert.equal(pkg["type"], "module");
  assert.equal(pkg["private"], undefined);
  assert.deepEqual((pkg["exports"] as Record<string, unknown>)["."], { types: "./dist/index.d.ts", import: "./dist/index.js" });
  assert.ok(Array.isArray(pkg["files"]) && (pkg["files"] as string[]).every((f) => f.startsWith("dist/") || f === "README.md"));
  assert.match((pkg["dependencies"] as Record<string, string>)["openapi-fetch"] ?? "", /^\^0\.\d+\.\d+$/);
  assert.equal(pkg["license"], "Apache-2.0");
});
