// The trace view: a virtualised waterfall (only the rows in sight exist in
// the DOM, so a 20,000-span trace scrolls like a small one), collapsible
// subtrees, a colour per service, error spans marked, and a detail panel.
import {
  attributesObject,
  formatAttributeValue,
  formatDuration,
  traceTree,
  unixNanos,
  type KeyValue,
  type SpanNode,
  type TraceTree,
} from "@tracegate/client";

import { fill, h, problemBox } from "./dom.js";
import type { Session } from "./session.js";

const ROW_HEIGHT = 24; // px; keep in step with .row in app.css
const OVERSCAN = 4; // rows rendered above and below the visible ones
const MAX_INDENT = 32; // deeper spans are indented like this depth
const COLOURS = 12; // .c0 … .c11 in app.css
const KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];

/** Performance mark set once the first waterfall rows are on screen. */
export const FIRST_PAINT_MARK = "tracegate:waterfall-painted";

export type TraceResult = Awaited<ReturnType<typeof fetchTrace>>;

/** GET /api/v1/traces/{id} as the session. */
export function fetchTrace(session: Session, id: string) {
  return session.api.GET("/api/v1/traces/{trace_id}", { params: { path: { trace_id: id } } });
}

/** Shows trace id; prefetched is its fetchTrace, if one was started already. */
export async function traceView(main: HTMLElement, session: Session, id: string, params: URLSearchParams, prefetched?: Promise<TraceResult>): Promise<void> {
  fill(main, h("p", { class: "muted" }, `Loading trace ${id}…`));
  const { data, error, response } = await (prefetched ?? fetchTrace(session, id));
  if (error !== undefined || data === undefined) {
    fill(main, h("h1", {}, `Trace ${id}`), problemBox(response, error), h("p", {}, h("a", { href: "#/" }, "Back to search")));
    return;
  }
  const tree = traceTree(data);
  if (tree.spans.length === 0) {
    fill(main, h("h1", {}, `Trace ${id}`), h("p", { class: "muted" }, "This trace has no spans."));
    return;
  }
  const wf = new Waterfall(tree, data.traceId);
  fill(main, wf.element);
  wf.mount();
  const span = params.get("span");
  if (span) wf.select(tree.spans.find((n) => n.span.spanId === span));
  for (const w of data.warnings) wf.warn(w);
  if (data.partial) wf.warn("Partial trace: Tempo did not return every span.");
}

interface Row {
  el: HTMLElement;
  name: HTMLElement;
  toggle: HTMLButtonElement;
  label: HTMLElement;
  bar: HTMLElement;
  dur: HTMLElement;
  node: SpanNode | undefined;
  /** The row index it shows (-1: none). */
  index: number;
  collapsed: boolean;
}

class Waterfall {
  readonly element: HTMLElement;
  private readonly body: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly detail: HTMLElement;
  private readonly notes: HTMLElement;
  private readonly colour = new Map<string, number>();
  private readonly collapsed = new Set<SpanNode>();
  private visible: SpanNode[];
  private pool: Row[] = [];
  private selected: SpanNode | undefined;
  private pending = false;
  private painted = false;

  constructor(
    private readonly tree: TraceTree,
    traceId: string,
  ) {
    this.visible = tree.spans;
    for (const n of tree.spans) if (!this.colour.has(n.service)) this.colour.set(n.service, this.colour.size % COLOURS);
    const root = tree.roots[0] as SpanNode;
    const errors = tree.spans.filter(isError).length;

    this.spacer = h("div", { class: "spacer" });
    this.body = h("div", { class: "wf-body", tabindex: 0, role: "tree", "aria-label": "spans" }, this.spacer);
    this.detail = h("aside", { class: "detail" }, h("p", { class: "muted" }, "Select a span to see its details."));
    this.notes = h("div", { class: "notes" });
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
      const t = h("span", { class: "tick" }, formatDuration(tree.durationNanos * f));
      t.style.left = `${f * 100}%`;
      return t;
    });
    this.element = h(
      "section",
      { class: "trace", "data-trace-id": traceId },
      h(
        "div",
        { class: "trace-head" },
        h("h1", {}, h("span", { class: "svc" }, root.service || "unknown service"), " ", root.span.name ?? ""),
        h(
          "p",
          { class: "meta" },
          h("span", {}, `Trace ${traceId}`),
          h("span", {}, `${tree.spans.length} spans`),
          h("span", {}, `${this.colour.size} services`),
          h("span", {}, formatDuration(tree.durationNanos)),
          h("span", {}, new Date(Number(tree.startUnixNanos / 1_000_000n)).toLocaleString()),
          errors > 0 && h("span", { class: "err-count" }, `${errors} with errors`),
          tree.orphans.length > 0 && h("span", {}, `${tree.orphans.length} without their parent`),
        ),
        h(
          "ul",
          { class: "legend" },
          [...this.colour].map(([svc, c]) => h("li", {}, h("span", { class: `dot c${c}` }), svc || "unknown")),
        ),
        this.notes,
      ),
      h(
        "div",
        { class: "wf" },
        h("div", { class: "wf-head" }, h("div", { class: "name" }, "Span"), h("div", { class: "lane" }, ticks)),
        this.body,
      ),
      this.detail,
    );
    this.body.addEventListener("scroll", () => this.schedule(), { passive: true });
    window.addEventListener("resize", () => this.schedule());
  }

  warn(text: string): void {
    this.notes.append(h("p", { class: "warning" }, text));
  }

  /** Call once the element is in the document (sizes are known then). */
  mount(): void {
    this.spacer.style.height = `${this.visible.length * ROW_HEIGHT}px`;
    this.render();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  /**
   * Shows the rows in sight (plus OVERSCAN) with a fixed pool of row
   * elements: row index i always goes to slot i % pool size, so scrolling by
   * a few rows refills only the rows that came into sight.
   */
  private render(): void {
    const top = this.body.scrollTop;
    const height = this.body.clientHeight || 600;
    const size = Math.ceil(height / ROW_HEIGHT) + 2 * OVERSCAN + 1;
    while (this.pool.length < size) this.pool.push(this.newRow());
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.visible.length, first + this.pool.length);
    const n = this.pool.length;
    for (let k = 0; k < n; k++) {
      const index = first + ((k - (first % n) + n) % n); // the index in [first, first+n) that maps to slot k
      const row = this.pool[k] as Row;
      const node = index < last ? this.visible[index] : undefined;
      if (node === undefined) {
        if (row.index !== -1) {
          row.el.hidden = true;
          row.node = undefined;
          row.index = -1;
        }
        continue;
      }
      if (row.index === -1) row.el.hidden = false;
      if (row.index !== index) {
        row.index = index;
        row.el.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
      }
      if (row.node !== node || row.collapsed !== this.collapsed.has(node)) this.fillRow(row, node);
      const selected = node === this.selected;
      if (row.el.classList.contains("selected") !== selected) row.el.classList.toggle("selected", selected);
    }
    if (!this.painted) {
      this.painted = true;
      // After the frame that shows the first rows.
      requestAnimationFrame(() => setTimeout(() => performance.mark(FIRST_PAINT_MARK), 0));
    }
  }

  private newRow(): Row {
    const toggle = h("button", { type: "button", class: "toggle", tabindex: -1 });
    const label = h("span", { class: "label" });
    const name = h("div", { class: "name" }, toggle, label);
    const bar = h("div", { class: "bar" });
    const dur = h("span", { class: "dur" });
    const el = h("div", { class: "row", role: "treeitem", hidden: true }, name, h("div", { class: "lane" }, bar, dur));
    const row: Row = { el, name, toggle, label, bar, dur, node: undefined, index: -1, collapsed: false };
    toggle.addEventListener("click", (ev) => {
      ev.stopPropagation();
      if (row.node) this.toggle(row.node);
    });
    el.addEventListener("click", () => this.select(row.node));
    this.spacer.append(el);
    return row;
  }

  private fillRow(row: Row, node: SpanNode): void {
    const total = this.tree.durationNanos || 1;
    const collapsed = this.collapsed.has(node);
    row.node = node;
    row.collapsed = collapsed;
    row.el.dataset["spanId"] = node.span.spanId ?? "";
    row.el.setAttribute("aria-level", String(node.depth + 1));
    row.el.classList.toggle("error", isError(node));
    row.el.classList.toggle("orphan", node.orphan);
    row.name.style.paddingLeft = `${Math.min(node.depth, MAX_INDENT) * 12}px`;
    const hasChildren = node.children.length > 0;
    row.toggle.textContent = hasChildren ? (collapsed ? "▸" : "▾") : "";
    row.toggle.disabled = !hasChildren;
    row.toggle.setAttribute("aria-label", hasChildren ? `${collapsed ? "expand" : "collapse"} ${node.children.length} child spans` : "no child spans");
    if (hasChildren) row.el.setAttribute("aria-expanded", String(!collapsed));
    else row.el.removeAttribute("aria-expanded");
    row.label.textContent = node.span.name ?? "";
    row.label.title = `${node.service}: ${node.span.name ?? ""}${node.orphan ? " (parent not in trace)" : ""}`;
    row.bar.className = `bar c${this.colour.get(node.service) ?? 0}`;
    const left = (node.startOffsetNanos / total) * 100;
    const width = Math.max((node.durationNanos / total) * 100, 0.1);
    row.bar.style.left = `${left}%`;
    row.bar.style.width = `${width}%`;
    row.dur.textContent = formatDuration(node.durationNanos);
    // After the bar, or inside its end when the bar reaches the right edge.
    row.dur.style.left = `${left + width}%`;
    row.dur.classList.toggle("inside", left + width > 85);
  }

  private toggle(node: SpanNode): void {
    if (this.collapsed.has(node)) this.collapsed.delete(node);
    else this.collapsed.add(node);
    // The visible rows: depth-first order, minus the subtrees of collapsed spans.
    const out: SpanNode[] = [];
    let skipDeeperThan = Infinity;
    for (const n of this.tree.spans) {
      if (n.depth > skipDeeperThan) continue;
      skipDeeperThan = this.collapsed.has(n) ? n.depth : Infinity;
      out.push(n);
    }
    this.visible = out;
    this.spacer.style.height = `${out.length * ROW_HEIGHT}px`;
    this.render();
  }

  select(node: SpanNode | undefined): void {
    if (!node) return;
    this.selected = node;
    this.render();
    const s = node.span;
    const start = this.tree.startUnixNanos;
    const status = s.status?.code === 2 ? "error" : s.status?.code === 1 ? "ok" : "unset";
    fill(
      this.detail,
      h("h2", {}, s.name ?? ""),
      h(
        "dl",
        {},
        field("Service", node.service || "unknown"),
        field("Span ID", s.spanId ?? ""),
        field("Parent", s.parentSpanId ? `${s.parentSpanId}${node.orphan ? " (not in this trace)" : ""}` : "none (root)"),
        field("Kind", KINDS[s.kind ?? 0] ?? String(s.kind)),
        field("Start", `+${formatDuration(node.startOffsetNanos)}`),
        field("Duration", formatDuration(node.durationNanos)),
        field("Status", s.status?.message ? `${status}: ${s.status.message}` : status),
      ),
      attrTable("Attributes", s.attributes),
      attrTable("Resource", node.resource?.attributes),
      s.events && s.events.length > 0
        ? h(
            "section",
            {},
            h("h3", {}, `Events (${s.events.length})`),
            h(
              "ol",
              { class: "events" },
              s.events.map((e) =>
                h(
                  "li",
                  {},
                  h("strong", {}, e.name ?? ""),
                  ` at +${formatDuration(Number(unixNanos(e.timeUnixNano) - start))}`,
                  attrTable("", e.attributes),
                ),
              ),
            ),
          )
        : null,
      s.links && s.links.length > 0
        ? h(
            "section",
            {},
            h("h3", {}, `Links (${s.links.length})`),
            h(
              "ul",
              { class: "links" },
              s.links.map((l) =>
                h("li", {}, h("a", { href: `#/traces/${l.traceId ?? ""}?span=${l.spanId ?? ""}` }, `${l.traceId ?? ""} / ${l.spanId ?? ""}`), attrTable("", l.attributes)),
              ),
            ),
          )
        : null,
    );
  }
}

function isError(n: SpanNode): boolean {
  return n.span.status?.code === 2;
}

function field(name: string, value: string): HTMLElement[] {
  return [h("dt", {}, name), h("dd", {}, value)];
}

function attrTable(title: string, attrs: KeyValue[] | undefined): HTMLElement | null {
  const obj = attributesObject(attrs);
  const keys = Object.keys(obj).sort();
  if (keys.length === 0) return title ? h("section", {}, h("h3", {}, title), h("p", { class: "muted" }, "none")) : null;
  const table = h("table", { class: "attrs" }, h("tbody", {}, keys.map((k) => h("tr", {}, h("th", {}, k), h("td", {}, formatAttributeValue(obj[k] ?? null))))));
  return title ? h("section", {}, h("h3", {}, title), table) : table;
}
