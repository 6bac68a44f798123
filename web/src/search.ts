// The search view: a TraceQL box with tag-name and tag-value autocomplete, a
// time range, and the matching traces (the most recent ones without a query).
import { formatDuration, type TraceSummary } from "@tracegate/client";

import { fill, h, problemBox } from "./dom.js";
import type { Session } from "./session.js";

/** Time ranges offered, in seconds back from now. */
const RANGES: [string, string, number][] = [
  ["15m", "last 15 minutes", 15 * 60],
  ["1h", "last hour", 3600],
  ["6h", "last 6 hours", 6 * 3600],
  ["24h", "last 24 hours", 24 * 3600],
  ["7d", "last 7 days", 7 * 24 * 3600],
];

function timeWindow(range: string): { start: number; end: number } {
  const secs = RANGES.find((r) => r[0] === range)?.[2] ?? 3600;
  const end = Math.ceil(Date.now() / 1000);
  return { start: end - secs, end };
}

export async function searchView(main: HTMLElement, session: Session, params: URLSearchParams): Promise<void> {
  const q = params.get("q") ?? "";
  const range = RANGES.some((r) => r[0] === params.get("range")) ? (params.get("range") as string) : "1h";

  const input = h("input", {
    type: "search",
    name: "q",
    value: q,
    placeholder: '{ resource.service.name = "checkout" && status = error }',
    autocomplete: "off",
    spellcheck: "false",
    "aria-label": "TraceQL query",
    role: "combobox",
    "aria-autocomplete": "list",
    "aria-controls": "suggestions",
    "aria-expanded": "false",
  });
  const rangeSelect = h(
    "select",
    { name: "range", "aria-label": "time range" },
    RANGES.map(([v, label]) => h("option", { value: v, selected: v === range }, label)),
  );
  const list = h("ul", { id: "suggestions", class: "suggestions", role: "listbox", hidden: true });
  const results = h("section", { class: "results", "aria-live": "polite" }, h("p", { class: "muted" }, "Searching…"));
  const form = h(
    "form",
    { class: "search", role: "search" },
    h("div", { class: "query" }, input, list),
    rangeSelect,
    h("button", { type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    if (input.value.trim() !== "") next.set("q", input.value.trim());
    next.set("range", rangeSelect.value);
    const hash = `#/?${next}`;
    if (location.hash === hash) void runSearch(session, results, input.value.trim(), rangeSelect.value);
    else location.hash = hash;
  });
  fill(main, form, results);
  new Autocomplete(input, list, session, () => timeWindow(rangeSelect.value));
  await runSearch(session, results, q, range);
}

async function runSearch(session: Session, results: HTMLElement, q: string, range: string): Promise<void> {
  const { start, end } = timeWindow(range);
  const query: { start: number; end: number; limit: number; q?: string } = { start, end, limit: 50 };
  if (q !== "") query.q = q;
  const { data, error, response } = await session.api.GET("/api/v1/traces", { params: { query } });
  if (error !== undefined || data === undefined) {
    fill(results, problemBox(response, error));
    return;
  }
  const label = RANGES.find((r) => r[0] === range)?.[1] ?? range;
  if (data.traces.length === 0) {
    fill(results, h("p", { class: "muted" }, q === "" ? `No traces in the ${label}.` : `No trace matches in the ${label}.`));
    return;
  }
  fill(
    results,
    h("p", { class: "muted" }, q === "" ? `Most recent traces, ${label}:` : `${data.traces.length} trace(s) matched, ${label}:`),
    h(
      "table",
      { class: "traces" },
      h("thead", {}, h("tr", {}, h("th", {}, "Root service"), h("th", {}, "Root span"), h("th", {}, "Start"), h("th", { class: "num" }, "Duration"), h("th", { class: "num" }, "Matched spans"))),
      h("tbody", {}, data.traces.map(resultRow)),
    ),
  );
}

function resultRow(t: TraceSummary): HTMLTableRowElement {
  const link = `#/traces/${t.traceId}`;
  const matched = t.spanSets.reduce((n, s) => n + s.matched, 0);
  return h(
    "tr",
    { "data-trace-id": t.traceId },
    h("td", {}, h("a", { href: link }, t.rootServiceName || "(root not yet seen)")),
    h("td", {}, h("a", { href: link }, t.rootSpanName || "–")),
    h("td", { title: t.startTime }, new Date(t.startTime).toLocaleString()),
    h("td", { class: "num" }, formatDuration(t.durationMs * 1e6)),
    h("td", { class: "num" }, t.spanSets.length === 0 ? "–" : String(matched)),
  );
}

/** TraceQL operators after which a value is expected. */
const valueContext = /([A-Za-z_.][\w.:-]*)\s*(?:=|!=|=~|!~|>|<|>=|<=)\s*("?)([^"&|)}]*)$/;
/** A partly typed attribute name. */
const nameContext = /(?:^|[\s{(&|!])(\.?[A-Za-z_][\w.:-]*|\.)$/;

interface Suggestion {
  label: string;
  /** What replaces the typed fragment. */
  insert: string;
  kind: "tag" | "value";
}

/** Suggests attribute names (from /tags) and values (from /tags/{tag}/values) at the caret. */
class Autocomplete {
  private tags: Promise<string[]> | undefined;
  private values = new Map<string, Promise<{ type: string; value: string }[]>>();
  private items: Suggestion[] = [];
  private active = -1;
  private fragment = "";
  private seq = 0;

  constructor(
    private input: HTMLInputElement,
    private list: HTMLUListElement,
    private session: Session,
    private range: () => { start: number; end: number },
  ) {
    input.addEventListener("input", () => void this.update());
    input.addEventListener("focus", () => void this.update());
    input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    input.addEventListener("keydown", (ev) => this.key(ev));
  }

  private tagNames(): Promise<string[]> {
    this.tags ??= this.session.api.GET("/api/v1/tags", { params: { query: this.range() } }).then(({ data }) =>
      (data?.scopes ?? []).flatMap((s) => s.tags.map((t) => (s.name === "intrinsic" ? t : `${s.name}.${t}`))).sort(),
    );
    return this.tags;
  }

  private tagValues(tag: string): Promise<{ type: string; value: string }[]> {
    let p = this.values.get(tag);
    if (!p) {
      p = this.session.api
        .GET("/api/v1/tags/{tag}/values", { params: { path: { tag }, query: this.range() } })
        .then(({ data }) => data?.values ?? []);
      this.values.set(tag, p);
    }
    return p;
  }

  private async update(): Promise<void> {
    const seq = ++this.seq;
    const before = this.input.value.slice(0, this.input.selectionStart ?? this.input.value.length);
    let items: Suggestion[] = [];
    const v = valueContext.exec(before);
    const n = nameContext.exec(before);
    if (v && /^[.A-Za-z_]/.test(v[1] as string) && (v[1] as string).length > 0) {
      const [, tag = "", quote = "", typed = ""] = v;
      this.fragment = quote + typed;
      if (/^[.A-Za-z0-9_:-]+(\.[A-Za-z0-9_:-]+)*$/.test(tag)) {
        const values = await this.tagValues(tag).catch(() => []);
        items = values
          .filter((x) => x.value.toLowerCase().startsWith(typed.toLowerCase()))
          .map((x) => ({
            label: x.value,
            insert: x.type === "string" ? JSON.stringify(x.value) : x.value,
            kind: "value" as const,
          }));
      }
    } else if (n) {
      const typed = n[1] ?? "";
      this.fragment = typed;
      const names = await this.tagNames().catch(() => []);
      const t = typed.replace(/^\./, "");
      items = names
        .filter((x) => x.startsWith(typed) || (t !== "" && x.split(".").slice(1).join(".").startsWith(t)) || typed === ".")
        .map((x) => ({ label: x, insert: x, kind: "tag" as const }));
    }
    if (seq !== this.seq) return; // a newer keystroke won
    this.show(items.slice(0, 12));
  }

  private show(items: Suggestion[]): void {
    this.items = items;
    this.active = -1;
    fill(
      this.list,
      items.map((s, i) =>
        h(
          "li",
          {
            role: "option",
            id: `suggestion-${i}`,
            class: s.kind,
            onmousedown: (ev: Event) => {
              ev.preventDefault();
              this.accept(i);
            },
          },
          s.label,
        ),
      ),
    );
    this.list.hidden = items.length === 0;
    this.input.setAttribute("aria-expanded", String(items.length > 0));
  }

  private close(): void {
    this.show([]);
  }

  private key(ev: KeyboardEvent): void {
    if (this.list.hidden) return;
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      const n = this.items.length;
      this.active = (this.active + (ev.key === "ArrowDown" ? 1 : n - 1)) % n;
      for (const [i, li] of Array.from(this.list.children).entries()) li.setAttribute("aria-selected", String(i === this.active));
      this.input.setAttribute("aria-activedescendant", `suggestion-${this.active}`);
    } else if ((ev.key === "Enter" || ev.key === "Tab") && this.active >= 0) {
      ev.preventDefault();
      this.accept(this.active);
    } else if (ev.key === "Escape") {
      this.close();
    }
  }

  private accept(i: number): void {
    const s = this.items[i];
    if (!s) return;
    const caret = this.input.selectionStart ?? this.input.value.length;
    const head = this.input.value.slice(0, caret - this.fragment.length);
    const tail = this.input.value.slice(caret);
    const insert = s.kind === "tag" ? `${s.insert} = ` : `${s.insert} `;
    this.input.value = head + insert + tail;
    const pos = head.length + insert.length;
    this.input.setSelectionRange(pos, pos);
    this.input.focus();
    void this.update();
  }
}
