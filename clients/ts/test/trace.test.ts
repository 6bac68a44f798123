// Unit tests of the trace helpers of @tracegate/client, through its package entry.
import { describe, test } from "node:test";
import assert from "node:assert/strict";

import {
  attribute,
  attributesObject,
  decodeAnyValue,
  describeError,
  formatAttributeValue,
  formatDuration,
  spanDurationNanos,
  traceTree,
  type Span,
  type Trace,
} from "@tracegate/client";

const T0 = 1_795_698_185_000_000_000n; // a unix time in nanoseconds, beyond 2^53

function span(id: string, parent: string | undefined, startMs: number, durMs: number, name = id): Span {
  const start = T0 + BigInt(startMs * 1e6);
  const s: Span = { spanId: id.padStart(16, "0"), name, startTimeUnixNano: String(start), endTimeUnixNano: String(start + BigInt(durMs * 1e6)) };
  if (parent !== undefined) s.parentSpanId = parent.padStart(16, "0");
  return s;
}

function trace(...groups: [string, Span[]][]): Trace {
  return {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    partial: false,
    warnings: [],
    resourceSpans: groups.map(([service, spans]) => ({
      resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
      scopeSpans: [{ spans }],
    })),
  };
}

describe("traceTree", () => {
  test("links parents and children across resources, with depth and start offsets", () => {
    const tree = traceTree(
      trace(
        ["frontend", [span("a", undefined, 0, 100), span("c", "a", 50, 20)]],
        ["checkout", [span("b", "a", 10, 30), span("d", "b", 15, 5)]],
      ),
    );
    assert.deepEqual(
      tree.spans.map((n) => [n.span.name, n.depth, n.startOffsetNanos, n.durationNanos, n.service]),
      [
        ["a", 0, 0, 100e6, "frontend"],
        ["b", 1, 10e6, 30e6, "checkout"],
        ["d", 2, 15e6, 5e6, "checkout"],
        ["c", 1, 50e6, 20e6, "frontend"],
      ],
    );
    const [a, b, d] = tree.spans;
    assert.equal(b?.parent, a);
    assert.equal(d?.parent, b);
    assert.deepEqual(a?.children.map((n) => n.span.name), ["b", "c"]);
    assert.equal(tree.roots.length, 1);
    assert.equal(tree.orphans.length, 0);
    assert.equal(tree.startUnixNanos, T0);
    assert.equal(tree.durationNanos, 100e6);
  });

  test("a span whose parent is missing is an orphan root; its subtree stays under it", () => {
    const tree = traceTree(trace(["svc", [span("a", undefined, 5, 10), span("x", "ff", 0, 50), span("y", "x", 1, 1)]]));
    assert.deepEqual(tree.roots.map((n) => n.span.name), ["x", "a"]); // by start
    assert.deepEqual(tree.orphans.map((n) => n.span.name), ["x"]);
    assert.equal(tree.orphans[0]?.orphan, true);
    assert.equal(tree.orphans[0]?.depth, 0);
    assert.deepEqual(tree.spans.map((n) => `${n.span.name}:${n.depth}`), ["x:0", "y:1", "a:0"]);
  });

  test("a parent cycle is cut and every span still appears once", () => {
    const tree = traceTree(trace(["svc", [span("p", "q", 0, 10), span("q", "p", 2, 10), span("s", "s", 3, 1)]]));
    assert.equal(tree.spans.length, 3);
    assert.deepEqual(new Set(tree.spans.map((n) => n.span.name)), new Set(["p", "q", "s"]));
    assert.ok(tree.orphans.some((n) => n.span.name === "p"));
    assert.ok(tree.orphans.some((n) => n.span.name === "s"));
    const q = tree.spans.find((n) => n.span.name === "q");
    assert.equal(q?.parent?.span.name, "p");
    assert.equal(q?.depth, 1);
  });

  test("a repeated span id keeps the first span", () => {
    const tree = traceTree(trace(["svc", [span("a", undefined, 0, 10, "first"), span("a", undefined, 1, 10, "second")]]));
    assert.deepEqual(tree.spans.map((n) => n.span.name), ["first"]);
    assert.equal(tree.duplicates, 1);
  });

  test("a 20,000-deep chain needs no recursion", () => {
    const spans: Span[] = [];
    for (let i = 0; i < 20_000; i++) spans.push(span((i + 1).toString(16), i === 0 ? undefined : i.toString(16), i, 1));
    const tree = traceTree(trace(["svc", spans]));
    assert.equal(tree.spans.length, 20_000);
    assert.equal(tree.spans[19_999]?.depth, 19_999);
  });

  test("an empty trace", () => {
    const tree = traceTree({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", partial: false, warnings: [], resourceSpans: [] });
    assert.deepEqual([tree.spans.length, tree.roots.length, tree.durationNanos, tree.startUnixNanos], [0, 0, 0, 0n]);
  });
});

describe("durations", () => {
  test("spanDurationNanos is exact beyond 2^53 and 0 for a missing or inverted end", () => {
    assert.equal(spanDurationNanos(span("a", undefined, 0, 1.5)), 1_500_000);
    assert.equal(spanDurationNanos({ startTimeUnixNano: "1795698185000000001", endTimeUnixNano: "1795698185000000002" }), 1);
    assert.equal(spanDurationNanos({ startTimeUnixNano: "10" }), 0);
    assert.equal(spanDurationNanos({ startTimeUnixNano: "10", endTimeUnixNano: "5" }), 0);
  });
  test("formatDuration picks a unit", () => {
    for (const [ns, want] of [
      [0, "0ns"],
      [850, "850ns"],
      [12_345, "12.3µs"],
      [4_560_000, "4.56ms"],
      [1_234_000_000, "1.23s"],
      [125e9, "2m 5s"],
      [3_720e9, "1h 2m"],
      [-1, "–"],
    ] as const) {
      assert.equal(formatDuration(ns), want, `formatDuration(${ns})`);
    }
    assert.equal(formatDuration(1500n), "1.5µs");
  });
});

describe("AnyValue decoding", () => {
  test("every member", () => {
    assert.equal(decodeAnyValue({ stringValue: "x" }), "x");
    assert.equal(decodeAnyValue({ boolValue: false }), false);
    assert.equal(decodeAnyValue({ intValue: "-42" }), -42);
    assert.equal(decodeAnyValue({ intValue: "9223372036854775807" }), 9223372036854775807n);
    assert.equal(decodeAnyValue({ doubleValue: 1.5 }), 1.5);
    assert.deepEqual(decodeAnyValue({ bytesValue: "AQL/" }), new Uint8Array([1, 2, 255]));
    assert.deepEqual(decodeAnyValue({ arrayValue: { values: [{ intValue: "1" }, { stringValue: "a" }, {}] } }), [1, "a", null]);
    assert.deepEqual(decodeAnyValue({ kvlistValue: { values: [{ key: "k", value: { boolValue: true } }, { key: "e" }] } }), { k: true, e: null });
    assert.equal(decodeAnyValue({}), null);
    assert.equal(decodeAnyValue(undefined), null);
  });
  test("attributes as an object, one attribute, and display text", () => {
    const attrs = [
      { key: "http.status_code", value: { intValue: "200" } },
      { key: "tags", value: { arrayValue: { values: [{ stringValue: "a" }, { intValue: "18446744073709551615" }] } } },
      { key: "raw", value: { bytesValue: "3q0=" } },
    ];
    assert.deepEqual(attributesObject(attrs), { "http.status_code": 200, tags: ["a", 18446744073709551615n], raw: new Uint8Array([0xde, 0xad]) });
    assert.equal(attribute(attrs, "http.status_code"), 200);
    assert.equal(attribute(attrs, "missing"), undefined);
    assert.equal(formatAttributeValue(attributesObject(attrs)["tags"] ?? null), '["a","18446744073709551615"]');
    assert.equal(formatAttributeValue(new Uint8Array([0xde, 0xad])), "dead");
  });
});

describe("describeError", () => {
  test("plain words per status", () => {
    assert.match(describeError(401), /sign in again/);
    assert.match(describeError(403), /does not grant/);
    assert.match(describeError(404), /not found.*not yours/i);
    assert.match(describeError(429, undefined, "7"), /slow down.*7 s/);
    assert.match(describeError(503), /Tempo/);
    assert.match(describeError(502), /Tempo/);
    assert.match(describeError(400, { type: "about:blank", title: "Bad Request", status: 400, detail: "bad q" }), /bad q/);
  });
});
