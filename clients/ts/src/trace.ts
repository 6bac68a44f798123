// Helpers every trace UI needs: the span tree of a trace with depths and start
// offsets, durations, and OTLP/JSON attribute values as plain JS values.
import type { AnyValue, KeyValue, Resource, Span, Trace } from "./client.js";

/** A span in its trace's tree (see traceTree). */
export interface SpanNode {
  span: Span;
  /** The resource the span was reported with (service, host, …). */
  resource: Resource | undefined;
  /** The resource's `service.name` ("" when it has none). */
  service: string;
  /** The parent span's node; undefined for a root or an orphan. */
  parent: SpanNode | undefined;
  /** Child spans, ordered by start time (then span id). */
  children: SpanNode[];
  /** 0 for roots and orphans, parent's depth + 1 otherwise. */
  depth: number;
  /** Start, in nanoseconds after the trace's first span started. */
  startOffsetNanos: number;
  /** The span's duration in nanoseconds (0 when its end is missing or before its start). */
  durationNanos: number;
  /** True when the span names a parent that is not in the trace (not yet arrived, or dropped). */
  orphan: boolean;
}

/** A trace as a tree of spans. */
export interface TraceTree {
  /** Root spans and orphans, ordered by start time: the top level of a waterfall. */
  roots: SpanNode[];
  /** Every span in depth-first order (each span followed by its subtree): the rows of a waterfall. */
  spans: SpanNode[];
  /** Spans whose parent is missing; they are also in roots. */
  orphans: SpanNode[];
  /** The earliest start, in unix nanoseconds (0n for an empty trace). */
  startUnixNanos: bigint;
  /** From the earliest start to the latest end, in nanoseconds. */
  durationNanos: number;
  /** Spans left out because another span earlier in the trace has the same span id. */
  duplicates: number;
}

/** Every span of a trace with the resource it was reported with. */
function spansWithResources(trace: Trace): { span: Span; resource: Resource | undefined }[] {
  const out: { span: Span; resource: Resource | undefined }[] = [];
  for (const rs of trace.resourceSpans) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) out.push({ span, resource: rs.resource });
    }
  }
  return out;
}

/** A uint64 decimal string (OTLP/JSON) as a bigint; missing or malformed is 0n. */
export function unixNanos(s: string | undefined): bigint {
  if (s === undefined || !/^[0-9]{1,20}$/.test(s)) return 0n;
  return BigInt(s);
}

/** A span's duration in nanoseconds (0 when the end is missing or before the start). */
export function spanDurationNanos(span: Span): number {
  const start = unixNanos(span.startTimeUnixNano);
  const end = unixNanos(span.endTimeUnixNano);
  return end > start ? Number(end - start) : 0;
}

// A uint64 nanosecond timestamp as seconds and nanoseconds, two exact doubles:
// differences of timestamps are then exact without BigInt, which is several
// times slower to parse (it matters for 20,000-span traces).
const splitSecs = new Float64Array(2);
function split(s: string | undefined): void {
  if (s === undefined || s.length > 20 || !/^[0-9]+$/.test(s)) {
    splitSecs[0] = 0;
    splitSecs[1] = 0;
  } else if (s.length <= 9) {
    splitSecs[0] = 0;
    splitSecs[1] = +s;
  } else {
    splitSecs[0] = +s.slice(0, -9);
    splitSecs[1] = +s.slice(-9);
  }
}

const byStart = (a: SpanNode, b: SpanNode): number =>
  a.startOffsetNanos - b.startOffsetNanos || ((a.span.spanId ?? "") < (b.span.spanId ?? "") ? -1 : 1);

/**
 * Builds the span tree of a trace: parent/child links from `parentSpanId`,
 * depths, and start offsets relative to the trace's earliest span.
 *
 * A span whose parent is not in the trace is an orphan: it becomes a root of
 * its own (with `orphan: true`), as do spans caught in a parent cycle. A
 * repeated span id keeps its first span. Runs in O(n log n) without
 * recursion, so deep traces cannot overflow the stack.
 */
export function traceTree(trace: Trace): TraceTree {
  const all = spansWithResources(trace);
  // Start and end of every span as [seconds, nanoseconds].
  const times = new Float64Array(all.length * 4);
  let minS = Infinity;
  let minN = 0;
  let maxS = -Infinity;
  let maxN = 0;
  for (let i = 0; i < all.length; i++) {
    const span = (all[i] as { span: Span }).span;
    split(span.startTimeUnixNano);
    const ss = (times[4 * i] = splitSecs[0] as number);
    const sn = (times[4 * i + 1] = splitSecs[1] as number);
    split(span.endTimeUnixNano);
    const es = (times[4 * i + 2] = splitSecs[0] as number);
    const en = (times[4 * i + 3] = splitSecs[1] as number);
    if (ss < minS || (ss === minS && sn < minN)) {
      minS = ss;
      minN = sn;
    }
    if (es > maxS || (es === maxS && en > maxN)) {
      maxS = es;
      maxN = en;
    }
  }
  if (all.length === 0) [minS, minN, maxS, maxN] = [0, 0, 0, 0];
  const sinceStart = (secs: number, nanos: number) => (secs - minS) * 1e9 + (nanos - minN);

  const services = new Map<Resource | undefined, string>();
  for (const rs of trace.resourceSpans) services.set(rs.resource, serviceName(rs.resource));
  const byId = new Map<string, SpanNode>();
  const nodes: SpanNode[] = [];
  let duplicates = 0;
  for (let i = 0; i < all.length; i++) {
    const { span, resource } = all[i] as { span: Span; resource: Resource | undefined };
    const id = span.spanId ?? "";
    if (id !== "" && byId.has(id)) {
      duplicates++;
      continue;
    }
    const node: SpanNode = {
      span,
      resource,
      service: services.get(resource) ?? serviceName(resource),
      parent: undefined,
      children: [],
      depth: 0,
      startOffsetNanos: sinceStart(times[4 * i] as number, times[4 * i + 1] as number),
      durationNanos: Math.max(
        0,
        sinceStart(times[4 * i + 2] as number, times[4 * i + 3] as number) - sinceStart(times[4 * i] as number, times[4 * i + 1] as number),
      ),
      orphan: false,
    };
    if (id !== "") byId.set(id, node);
    nodes.push(node);
  }

  const roots: SpanNode[] = [];
  const orphans: SpanNode[] = [];
  for (const node of nodes) {
    const pid = node.span.parentSpanId ?? "";
    const parent = pid === "" ? undefined : byId.get(pid);
    if (parent !== undefined && parent !== node) {
      node.parent = parent;
      parent.children.push(node);
    } else {
      if (pid !== "") {
        node.orphan = true;
        orphans.push(node);
      }
      roots.push(node);
    }
  }
  roots.sort(byStart);
  for (const node of nodes) if (node.children.length > 1) node.children.sort(byStart);

  // Depth-first walk from the roots; spans it never reaches sit in a parent
  // cycle: cut each cycle at its earliest span, which becomes an orphan root.
  const spans: SpanNode[] = [];
  const seen = new Set<SpanNode>();
  const walk = (root: SpanNode): void => {
    const stack = [root];
    while (stack.length > 0) {
      const node = stack.pop() as SpanNode;
      if (seen.has(node)) continue;
      seen.add(node);
      node.depth = node.parent === undefined ? 0 : node.parent.depth + 1;
      spans.push(node);
      for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i] as SpanNode);
    }
  };
  for (const root of roots) walk(root);
  if (spans.length < nodes.length) {
    for (const node of [...nodes].sort(byStart)) {
      if (seen.has(node)) continue;
      const parent = node.parent;
      if (parent !== undefined) parent.children.splice(parent.children.indexOf(node), 1);
      node.parent = undefined;
      node.orphan = true;
      orphans.push(node);
      roots.push(node);
      walk(node);
    }
  }

  return {
    roots,
    spans,
    orphans,
    startUnixNanos: BigInt(minS) * 1_000_000_000n + BigInt(minN),
    durationNanos: Math.max(0, sinceStart(maxS, maxN)),
    duplicates,
  };
}

/** The `service.name` attribute of a resource, or "". */
export function serviceName(resource: Resource | undefined): string {
  const v = attribute(resource?.attributes, "service.name");
  return typeof v === "string" ? v : "";
}

/** A plain JS value of an OTLP/JSON attribute value (see decodeAnyValue). */
export type AttributeValue = string | number | bigint | boolean | Uint8Array | null | AttributeValue[] | { [key: string]: AttributeValue };

/**
 * Decodes an OTLP/JSON `AnyValue` to a plain JS value: strings, booleans and
 * doubles as such; 64-bit integers (decimal strings on the wire) as numbers
 * when they are safe integers and as bigints otherwise; bytes (base64) as a
 * Uint8Array; arrays and key-value lists recursively (arrays and objects); an
 * empty or undefined value as null.
 */
export function decodeAnyValue(v: AnyValue | undefined): AttributeValue {
  if (v === undefined) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) {
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : BigInt(v.intValue);
  }
  if (v.doubleValue !== undefined) return decodeDouble(v.doubleValue);
  if (v.bytesValue !== undefined) return base64Bytes(v.bytesValue);
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(decodeAnyValue);
  if (v.kvlistValue !== undefined) return attributesObject(v.kvlistValue.values);
  return null;
}

/** OTLP/JSON writes non-finite doubles as strings ("NaN", "Infinity", "-Infinity"). */
function decodeDouble(d: number | string): number {
  return typeof d === "number" ? d : Number(d);
}

function base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Attributes as an object of plain values (decodeAnyValue); a repeated key keeps its last value. */
export function attributesObject(attrs: KeyValue[] | undefined): { [key: string]: AttributeValue } {
  const out: { [key: string]: AttributeValue } = {};
  for (const kv of attrs ?? []) out[kv.key] = decodeAnyValue(kv.value);
  return out;
}

/** The plain value of the attribute named key, or undefined when there is none. */
export function attribute(attrs: KeyValue[] | undefined, key: string): AttributeValue | undefined {
  const kv = attrs?.find((a) => a.key === key);
  return kv === undefined ? undefined : decodeAnyValue(kv.value);
}

/** An attribute value as text for display (bytes as hex, objects and arrays as JSON). */
export function formatAttributeValue(v: AttributeValue): string {
  if (v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  if (v instanceof Uint8Array) return Array.from(v, (b) => b.toString(16).padStart(2, "0")).join("");
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === "bigint" ? x.toString() : x instanceof Uint8Array ? formatAttributeValue(x) : x,
  );
}

/** Nanoseconds to milliseconds. */
export function nanosToMillis(nanos: number | bigint): number {
  return Number(nanos) / 1e6;
}

/**
 * A duration in nanoseconds as short text with a unit that fits:
 * "850ns", "12.3µs", "4.56ms", "1.23s", "2m 5s", "1h 2m".
 */
export function formatDuration(nanos: number | bigint): string {
  const ns = Number(nanos);
  if (!Number.isFinite(ns) || ns < 0) return "–";
  if (ns < 1e3) return `${Math.round(ns)}ns`;
  if (ns < 1e6) return `${trim(ns / 1e3)}µs`;
  if (ns < 1e9) return `${trim(ns / 1e6)}ms`;
  if (ns < 60e9) return `${trim(ns / 1e9)}s`;
  const s = Math.round(ns / 1e9);
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** Three significant digits, without trailing zeros. */
function trim(x: number): string {
  return String(Number(x.toPrecision(3)));
}
