// The trace explorer in a real browser: Debian's chromium, driven by a pinned
// puppeteer-core (no browser download), against a live `tracegate dev` on
// free ports. The test mints the tokens it needs at dev mode's token
// endpoint (multi-tenant, expired) and ingests a 20,000-span trace through
// the stand-in's OTLP receiver; it reads what the UI must show from the API.
//
// It reports the time to the first waterfall paint of that trace, the
// longest main-thread task while scrolling to its last span (Long Tasks
// API), and writes a screenshot of the trace view to a temporary folder.
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

import puppeteer, { type Browser, type Page } from "puppeteer-core";

import { spansOf, type SearchResult, type Trace } from "@tracegate/client";

import { buildTracegate, listen, startDev, type DevServer } from "../../clients/ts/test/devserver.js";

const ACME_CHECKOUT = "4bf92f3577b34da6a3ce929d0e0e4736";
const GLOBEX_REPORT = "5b8efff798038103d269b633813fc700";
const ACME_LOGIN_FAIL = "00000000000000000a1b2c3d4e5f6071";
const BIG_TRACE = "b19b19b19b19b19b19b19b19b19b19b1";
const BIG_SPANS = 20_000;
const FIRST_PAINT_MARK = "tracegate:waterfall-painted";
/** Fail above this; the target is 1.5 s (reported, see the diagnostic). */
const FIRST_PAINT_LIMIT_MS = 3_000;
const LONG_TASK_LIMIT_MS = 100;

// ---- the 20,000-span trace ---------------------------------------------------

/** Span i's parent is (i-1)/4: a 4-ary tree, 8 services, every 997th span an error. */
function bigTrace(startNs: bigint): unknown {
  const services = ["edge", "api", "auth", "cart", "pricing", "stock", "db", "cache"];
  const spanId = (i: number) => (i + 1).toString(16).padStart(16, "0");
  const byService: unknown[][] = services.map(() => []);
  for (let i = 0; i < BIG_SPANS; i++) {
    const start = startNs + BigInt(i) * 1_000n;
    const dur = BigInt(BIG_SPANS - i) * 1_000n + 5_000n;
    const span: Record<string, unknown> = {
      traceId: BIG_TRACE,
      spanId: spanId(i),
      name: `op-${i}`,
      kind: 2,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(start + dur),
      attributes: [
        { key: "i", value: { intValue: String(i) } },
        { key: "http.route", value: { stringValue: `/items/${i % 50}` } },
      ],
      status: i % 997 === 5 ? { code: 2, message: "boom" } : {},
    };
    if (i > 0) span["parentSpanId"] = spanId(Math.floor((i - 1) / 4));
    byService[i % services.length]?.push(span);
  }
  return {
    resourceSpans: services.map((svc, s) => ({
      resource: { attributes: [{ key: "service.name", value: { stringValue: svc } }] },
      scopeSpans: [{ scope: { name: "ui-test" }, spans: byService[s] }],
    })),
  };
}

/** The last span of the big trace in depth-first order: always the last child. */
function lastSpanName(): string {
  let k = 0;
  for (;;) {
    const children = [4 * k + 1, 4 * k + 2, 4 * k + 3, 4 * k + 4].filter((c) => c < BIG_SPANS);
    if (children.length === 0) return `op-${k}`;
    k = children[children.length - 1] as number;
  }
}

// ---- the browser ---------------------------------------------------------

interface Watched {
  page: Page;
  consoleErrors: { text: string; url: string }[];
  requests: { url: string; headers: Record<string, string> }[];
  responses: { url: string; status: number }[];
}

/** Reports CSP violations and long tasks into window globals from the first script on. */
const instrumentation = `
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
  window.__longTasks = [];
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration }); })
    .observe({ type: "longtask", buffered: true });
`;

declare global {
  interface Window {
    __csp: string[];
    __longTasks: { start: number; duration: number }[];
  }
}

describe("the trace explorer in headless Chromium", () => {
  let tmp = "";
  let dev: DevServer;
  let browser: Browser;
  let shots = "";
  const servers: Server[] = [];
  let allowedOrigin = "";
  let otherOrigin = "";
  const pages: Watched[] = [];

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "tracegate-ui-"));
    // Two plain pages on other ports: one origin tracegate allows, one it does not.
    const page = (_req: unknown, res: import("node:http").ServerResponse) =>
      res.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>other origin</title><p>a frontend elsewhere</p>");
    const allowed = createServer(page);
    const other = createServer(page);
    servers.push(allowed, other);
    allowedOrigin = `http://127.0.0.1:${await listen(allowed)}`;
    otherOrigin = `http://127.0.0.1:${await listen(other)}`;

    dev = await startDev(await buildTracegate(tmp), { TRACEGATE_CORS_ORIGINS: allowedOrigin });

    const ingest = await fetch(dev.otlp, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Scope-OrgID": "acme" },
      body: JSON.stringify(bigTrace(BigInt(Date.now() - 60_000) * 1_000_000n)),
    });
    assert.equal(ingest.status, 200, `OTLP ingest: ${await ingest.text()}`);

    browser = await puppeteer.launch({
      executablePath: process.env["CHROMIUM"] ?? "/usr/bin/chromium",
      headless: true,
      userDataDir: join(tmp, "profile"),
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
      ],
    });
    shots = mkdtempSync(join(tmpdir(), "tracegate-ui-screenshots-"));
  }, { timeout: 300_000 });

  after(async () => {
    await browser?.close();
    await dev?.stop();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function open(url: string): Promise<Watched> {
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    const w: Watched = { page, consoleErrors: [], requests: [], responses: [] };
    page.on("console", (m) => {
      if (m.type() === "error") w.consoleErrors.push({ text: m.text(), url: m.location().url ?? "" });
    });
    page.on("pageerror", (e) => w.consoleErrors.push({ text: `uncaught: ${e instanceof Error ? e.message : String(e)}`, url: "" }));
    page.on("request", (r) => w.requests.push({ url: r.url(), headers: r.headers() }));
    page.on("response", (r) => w.responses.push({ url: r.url(), status: r.status() }));
    await page.evaluateOnNewDocument(instrumentation);
    await page.goto(url, { waitUntil: "domcontentloaded" });
    pages.push(w);
    return w;
  }

  /** Console errors other than the failed loads this case expects (the browser logs every 4xx). */
  function unexpectedErrors(w: Watched, expectedStatuses: number[] = []): string[] {
    const ok = new RegExp(`^Failed to load resource: the server responded with a status of (${expectedStatuses.join("|") || "none"})\\b`);
    return w.consoleErrors.filter((e) => !ok.test(e.text)).map((e) => `${e.text} (${e.url})`);
  }

  async function cspViolations(w: Watched): Promise<string[]> {
    return w.page.evaluate(() => window.__csp);
  }

  async function texts(page: Page, selector: string): Promise<string[]> {
    return page.$$eval(selector, (els) => els.map((e) => e.textContent ?? ""));
  }

  async function apiJSON<T>(path: string, token: string, tenant?: string): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    if (tenant) headers["X-Tenant"] = tenant;
    const res = await fetch(`${dev.base}${path}`, { headers });
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    return (await res.json()) as T;
  }

  test("search as acme shows acme's traces and none of globex's", async () => {
    const acme = (await apiJSON<SearchResult>("/api/v1/traces?limit=50", dev.tokens["acme"] ?? "")).traces.map((t) => t.traceId);
    const globex = (await apiJSON<SearchResult>("/api/v1/traces?limit=50", dev.tokens["globex"] ?? "")).traces.map((t) => t.traceId);
    assert.ok(acme.includes(ACME_CHECKOUT) && globex.includes(GLOBEX_REPORT), "the seeded traces are missing");

    const w = await open(`${dev.base}/ui/?tenant=acme`);
    await w.page.waitForSelector("table.traces tbody tr");
    const shown = await w.page.$$eval("table.traces tbody tr", (rows) => rows.map((r) => r.getAttribute("data-trace-id") ?? ""));
    assert.deepEqual([...shown].sort(), [...acme].sort());
    for (const id of globex) if (!acme.includes(id)) assert.ok(!shown.includes(id), `globex's trace ${id} is shown to acme`);
    assert.ok(!w.page.url().includes("tenant="), "the dev sign-in parameter stays in the URL");
    assert.deepEqual(unexpectedErrors(w), []);
  });

  test("the deep link to acme's checkout trace renders every span name", async () => {
    const trace = await apiJSON<Trace>(`/api/v1/traces/${ACME_CHECKOUT}`, dev.tokens["acme"] ?? "");
    const names = spansOf(trace).map((s) => s.name ?? "");
    assert.ok(names.length >= 5);
    const w = await open(`${dev.base}/ui/?tenant=acme#/traces/${ACME_CHECKOUT}`);
    await w.page.waitForSelector(".row .label");
    const labels = await texts(w.page, ".row:not([hidden]) .label");
    for (const name of names) assert.ok(labels.includes(name), `span "${name}" is not in the waterfall: ${labels.join(", ")}`);
    assert.equal(labels.length, names.length);
    // A span's details open on click.
    await w.page.click(`.row[data-span-id="${spansOf(trace)[2]?.spanId ?? ""}"]`);
    await w.page.waitForSelector(".detail dl");
    assert.equal((await texts(w.page, ".detail h2"))[0], spansOf(trace)[2]?.name);
    const file = join(shots, "trace-view.png");
    await w.page.screenshot({ path: file, fullPage: false });
    console.log(`# screenshot of the trace view: ${file}`);
    assert.deepEqual(unexpectedErrors(w), []);
  });

  test("the TraceQL box suggests tag names, then the tenant's own values", async () => {
    const w = await open(`${dev.base}/ui/?tenant=acme`);
    await w.page.waitForSelector("table.traces tbody tr");
    await w.page.type("input[name=q]", "{ resource.serv");
    await w.page.waitForSelector("#suggestions li.tag");
    assert.ok((await texts(w.page, "#suggestions li")).includes("resource.service.name"));
    await w.page.$$eval("#suggestions li", (lis) => {
      const li = lis.find((l) => l.textContent === "resource.service.name");
      li?.dispatchEvent(new MouseEvent("mousedown", { bubbles: true }));
    });
    assert.equal(await w.page.$eval("input[name=q]", (i) => (i as HTMLInputElement).value), "{ resource.service.name = ");
    await w.page.waitForSelector("#suggestions li.value");
    const values = await texts(w.page, "#suggestions li.value");
    assert.ok(values.includes("frontend"), `values: ${values.join(", ")}`);
    assert.ok(!values.includes("reports"), `globex's service is suggested to acme: ${values.join(", ")}`);
    await w.page.keyboard.press("ArrowDown");
    await w.page.keyboard.press("Enter");
    await w.page.type("input[name=q]", "}");
    await w.page.keyboard.press("Enter"); // submits the search
    await w.page.waitForFunction(() => location.hash.includes("q="));
    await w.page.waitForSelector("table.traces tbody tr");
    const q = new URLSearchParams((await w.page.evaluate(() => location.hash)).split("?")[1]).get("q");
    assert.match(q ?? "", /^\{ resource\.service\.name = "[^"]+" \}$/);
    assert.deepEqual(unexpectedErrors(w), []);
  });

  test("subtrees collapse and expand", async () => {
    const w = await open(`${dev.base}/ui/?tenant=acme#/traces/${ACME_CHECKOUT}`);
    await w.page.waitForSelector(".row .label");
    const all = (await texts(w.page, ".row:not([hidden]) .label")).length;
    // Rows not in use are not displayed (they would cover the others).
    assert.ok(await w.page.$$eval(".row[hidden]", (rs) => rs.every((r) => getComputedStyle(r).display === "none")));
    await w.page.click(".row:not([hidden]) .toggle:not([disabled])"); // the root's
    await w.page.waitForFunction(() => document.querySelectorAll(".row:not([hidden])").length === 1);
    await w.page.click(".row:not([hidden]) .toggle:not([disabled])");
    await w.page.waitForFunction((n) => document.querySelectorAll(".row:not([hidden])").length === n, {}, all);
    assert.ok(all > 1);
  });

  test("error spans are marked", async () => {
    const trace = await apiJSON<Trace>(`/api/v1/traces/${ACME_LOGIN_FAIL}`, dev.tokens["acme"] ?? "");
    const errors = spansOf(trace).filter((s) => s.status?.code === 2).map((s) => s.name ?? "");
    assert.ok(errors.length > 0, "the seeded failed login has no error span");
    const w = await open(`${dev.base}/ui/?tenant=acme#/traces/${ACME_LOGIN_FAIL}`);
    await w.page.waitForSelector(".row .label");
    assert.deepEqual((await texts(w.page, ".row.error:not([hidden]) .label")).sort(), errors.sort());
    assert.match((await texts(w.page, ".trace-head .meta"))[0] ?? "", new RegExp(`${errors.length} with errors`));
    assert.deepEqual(unexpectedErrors(w), []);
  });

  test("the deep link to globex's trace, as acme, says not found", async () => {
    const w = await open(`${dev.base}/ui/?tenant=acme#/traces/${GLOBEX_REPORT}`);
    await w.page.waitForSelector("p.error");
    const [msg] = await texts(w.page, "p.error");
    assert.match(msg ?? "", /not found/i);
    assert.equal(await w.page.$(".row"), null);
    assert.deepEqual(unexpectedErrors(w, [404]), []);
  });

  test("a multi-tenant token shows the tenant picker and then sends X-Tenant", async () => {
    const token = await dev.mint(["acme", "globex"]);
    const w = await open(`${dev.base}/ui/`);
    await w.page.waitForSelector("textarea[name=token]");
    await w.page.type("textarea[name=token]", token);
    await w.page.click("form.signin button[type=submit]");
    await w.page.waitForSelector(".picker button[data-tenant=globex]");
    assert.deepEqual(await texts(w.page, ".picker button"), ["acme", "globex"]);
    // whoami answered without X-Tenant.
    const whoami = w.responses.filter((r) => r.url.endsWith("/api/v1/whoami"));
    assert.equal(whoami[0]?.status, 200);
    await w.page.click(".picker button[data-tenant=globex]");
    await w.page.waitForSelector("table.traces tbody tr");
    const searches = w.requests.filter((r) => new URL(r.url).pathname === "/api/v1/traces");
    assert.ok(searches.length > 0, "no search request");
    for (const s of searches) assert.equal(s.headers["x-tenant"], "globex");
    const shown = await w.page.$$eval("table.traces tbody tr", (rows) => rows.map((r) => r.getAttribute("data-trace-id")));
    assert.ok(shown.includes(GLOBEX_REPORT) && !shown.includes(ACME_CHECKOUT), `shown: ${shown.join(", ")}`);
    // The header offers switching tenants.
    assert.equal(await w.page.$eval("header select[name=tenant]", (s) => (s as HTMLSelectElement).value), "globex");
    assert.deepEqual(unexpectedErrors(w), []);
  });

  test("an expired token shows the sign-in message", async () => {
    const token = await dev.mint(["acme"], "-1h");
    const w = await open(`${dev.base}/ui/`);
    await w.page.waitForSelector("textarea[name=token]");
    await w.page.type("textarea[name=token]", token);
    await w.page.click("form.signin button[type=submit]");
    await w.page.waitForSelector("form.signin p.error");
    const [msg] = await texts(w.page, "form.signin p.error");
    assert.match(msg ?? "", /sign in again/i);
    assert.equal(await w.page.evaluate(() => sessionStorage.getItem("tracegate.token")), null, "the expired token is kept");
    assert.deepEqual(unexpectedErrors(w, [401]), []);
    // Dev mode offers its tenants instead; picking one signs in.
    assert.deepEqual(await texts(w.page, "button[data-dev-tenant]"), ["acme", "globex"]);
    await w.page.click("button[data-dev-tenant=globex]");
    await w.page.waitForSelector("table.traces tbody tr");
    assert.equal((await texts(w.page, "header .tenant"))[0], "globex");
  });

  test("a 20,000-span trace: first waterfall paint, and no long task while scrolling to the last span", async (t: TestContext) => {
    const w = await open(`${dev.base}/ui/?tenant=acme#/traces/${BIG_TRACE}`);
    await w.page.waitForFunction((mark) => performance.getEntriesByName(mark).length > 0, { timeout: 60_000 }, FIRST_PAINT_MARK);
    const firstPaint = await w.page.evaluate((mark) => performance.getEntriesByName(mark)[0]?.startTime ?? -1, FIRST_PAINT_MARK);
    const rowsInDom = await w.page.$$eval(".row", (r) => r.length);
    assert.ok(rowsInDom < 200, `${rowsInDom} rows in the DOM: not virtualised`);
    assert.match((await texts(w.page, ".trace-head .meta"))[0] ?? "", /20000 spans/);

    // Scroll to the end, one step per frame, the way a dragged scrollbar does
    // (every frame shows rows it never showed before: the worst case). The
    // Long Tasks API reports wall-clock time, which a machine busy with other
    // work stretches: a pass counts if it had no task over the limit, and the
    // test takes the best of up to three passes.
    const passes: { ms: number; longest: number; count: number }[] = [];
    for (let pass = 0; pass < 3; pass++) {
      passes.push(
        await w.page.evaluate(async () => {
          const body = document.querySelector(".wf-body") as HTMLElement;
          body.scrollTop = 0;
          await new Promise((r) => setTimeout(r, 200));
          const start = performance.now();
          const steps = 120;
          for (let i = 1; i <= steps; i++) {
            body.scrollTop = (body.scrollHeight * i) / steps;
            await new Promise((r) => requestAnimationFrame(() => r(null)));
          }
          await new Promise((r) => setTimeout(r, 300)); // let the last frames and observers settle
          const during = window.__longTasks.filter((lt) => lt.start >= start);
          return { ms: performance.now() - start, longest: Math.max(0, ...during.map((lt) => lt.duration)), count: during.length };
        }),
      );
      if ((passes[passes.length - 1]?.longest ?? Infinity) < LONG_TASK_LIMIT_MS) break;
    }
    const scroll = passes.reduce((a, b) => (b.longest < a.longest ? b : a));
    const last = lastSpanName();
    await w.page.waitForFunction(
      (name) => [...document.querySelectorAll(".row:not([hidden]) .label")].some((e) => e.textContent === name),
      { timeout: 10_000 },
      last,
    );
    const summary =
      `first waterfall paint ${firstPaint.toFixed(0)} ms after navigation (target 1500 ms); ` +
      `scrolled ${BIG_SPANS} rows in ${scroll.ms.toFixed(0)} ms: ${scroll.count} long tasks, longest ${scroll.longest.toFixed(0)} ms (limit ${LONG_TASK_LIMIT_MS} ms; ` +
      `passes: ${passes.map((p) => `${p.longest.toFixed(0)} ms`).join(", ")})`;
    t.diagnostic(summary);
    console.log(`# ${summary}`);
    assert.ok(firstPaint > 0 && firstPaint <= FIRST_PAINT_LIMIT_MS, summary);
    assert.ok(scroll.longest < LONG_TASK_LIMIT_MS, summary);
    assert.deepEqual(unexpectedErrors(w), []);
  });

  test("a page on another origin fetches the API when --cors-origin allows it, and only then", async () => {
    assert.match(dev.output(), new RegExp(`CORS origins\\s+${allowedOrigin.replace(/[.]/g, "\\.")}\\s`), "the banner does not print the CORS origins");
    const call = (w: Watched) =>
      w.page.evaluate(
        async (base, token) => {
          try {
            const r = await fetch(`${base}/api/v1/whoami`, { headers: { Authorization: `Bearer ${token}` } });
            return `${r.status} ${((await r.json()) as { tenant?: string }).tenant ?? ""}`;
          } catch (e) {
            return `blocked: ${(e as Error).name}`;
          }
        },
        dev.base,
        dev.tokens["acme"] ?? "",
      );
    const allowed = await open(`${allowedOrigin}/`);
    assert.equal(await call(allowed), "200 acme");
    assert.deepEqual(unexpectedErrors(allowed), []);
    const other = await open(`${otherOrigin}/`);
    assert.equal(await call(other), "blocked: TypeError");
  });

  test("the CSP is enforced, and no page reported a violation or a script error", async () => {
    // The collector works: an inline script is refused and reported.
    const w = await open(`${dev.base}/ui/`);
    await w.page.waitForSelector("textarea[name=token]");
    const ran = await w.page.evaluate(async () => {
      const s = document.createElement("script");
      s.textContent = "window.__inlineRan = true";
      document.body.append(s);
      await new Promise((r) => setTimeout(r, 100));
      return (window as unknown as { __inlineRan?: boolean }).__inlineRan === true;
    });
    assert.equal(ran, false, "an inline script ran");
    assert.ok((await cspViolations(w)).some((v) => v.startsWith("script-src")), "no violation reported for an inline script");
    // Every other page of this run: none.
    for (const p of pages) {
      if (p === w || !p.page.url().startsWith(dev.base)) continue;
      assert.deepEqual(await cspViolations(p), [], `CSP violations on ${p.page.url()}`);
      assert.deepEqual(
        p.consoleErrors.filter((e) => !e.text.startsWith("Failed to load resource")),
        [],
        `script errors on ${p.page.url()}`,
      );
    }
  });
});
