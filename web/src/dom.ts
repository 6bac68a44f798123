// A tiny DOM helper: h("div", { class: "x", onclick: f }, "text", child).
// Text always goes in as text nodes (never HTML), so nothing the API returns
// can inject markup; no inline styles (the page's CSP forbids them).
import { describeError, type Problem } from "@tracegate/client";

type Child = Node | string | number | false | null | undefined;
type Attrs = Record<string, string | number | boolean | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el: Element, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(typeof c === "string" || typeof c === "number" ? String(c) : c);
  }
}

/** Replaces el's children. */
export function fill(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A failed request's message, in plain words (describeError). */
export function errorBox(status: number, detail?: string): HTMLElement {
  return h("p", { class: "error", role: "alert", "data-status": status }, detail ?? describeError(status));
}

/** The errorBox of an openapi-fetch result's error. */
export function problemBox(response: Response, problem: Problem | undefined): HTMLElement {
  return errorBox(response.status, describeError(response.status, problem, response.headers.get("Retry-After")));
}
