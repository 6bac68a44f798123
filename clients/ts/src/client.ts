// Typed client for tracegate's HTTP API, for web frontends.
//
// The types come from openapi.yaml (src/schema.ts, `npm run gen:ts`);
// requests go through openapi-fetch, so paths, parameters and response bodies
// are checked by the compiler:
//
//   const tg = createTracegateClient("https://tracegate.example.com", () => auth.accessToken());
//   const { data, error, response } = await tg.GET("/api/v1/traces/{trace_id}", {
//     params: { path: { trace_id: "4bf92f3577b34da6a3ce929d0e0e4736" } },
//   });
//   if (error) console.warn(response.status, error.title, error.detail); // error: Problem
//   else render(data.resourceSpans);                                     // data: Trace
import createClient, { type Client, type ClientOptions, type Middleware } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };

/** An RFC 9457 problem document: the body of every tracegate error. */
export type Problem = components["schemas"]["Problem"];
/** A trace: OTLP/JSON `TracesData` plus `traceId`, `partial` and `warnings`. */
export type Trace = components["schemas"]["Trace"];
export type ResourceSpans = components["schemas"]["ResourceSpans"];
export type Span = components["schemas"]["Span"];
export type Resource = components["schemas"]["Resource"];
export type KeyValue = components["schemas"]["KeyValue"];
export type AnyValue = components["schemas"]["AnyValue"];
export type SearchResult = components["schemas"]["SearchResult"];
export type TraceSummary = components["schemas"]["TraceSummary"];
export type Whoami = components["schemas"]["Whoami"];

/** The openapi-fetch client for tracegate's paths. */
export type TracegateClient = Client<paths>;

/**
 * openapi-fetch's client options, except `baseUrl` (an argument of its own),
 * plus `tenant`: the tenant to read when the token grants several, sent as
 * `X-Tenant` on every request. A function is called before every request (so
 * a tenant picker can change it); `undefined` or `""` sends no header.
 */
export type TracegateClientOptions = Omit<ClientOptions, "baseUrl"> & {
  tenant?: string | (() => string | undefined) | undefined;
};

/**
 * Returns a typed client for the tracegate at `baseUrl` (for example
 * `https://tracegate.example.com`, or `""` for the page's own origin).
 *
 * `getToken` is called before every request and its JWT is sent as
 * `Authorization: Bearer <token>`; it may refresh the token. An empty token
 * sends no Authorization header (tracegate then answers 401 on /api/v1).
 * `opts.tenant` sends `X-Tenant` (see TracegateClientOptions).
 */
export function createTracegateClient(
  baseUrl: string,
  getToken: () => string | Promise<string>,
  opts: TracegateClientOptions = {},
): TracegateClient {
  const { tenant, ...rest } = opts;
  const client = createClient<paths>({ ...rest, baseUrl });
  client.use(bearerAuth(getToken));
  if (tenant !== undefined) client.use(tenantHeader(tenant));
  return client;
}

/** The header that selects the tenant when a token grants several. */
export const TENANT_HEADER = "X-Tenant";

/** openapi-fetch middleware that sends `X-Tenant: <tenant>` (nothing for an empty tenant). */
export function tenantHeader(tenant: string | (() => string | undefined)): Middleware {
  return {
    onRequest({ request }) {
      const t = typeof tenant === "function" ? tenant() : tenant;
      if (t !== undefined && t !== "") request.headers.set(TENANT_HEADER, t);
      return request;
    },
  };
}

/** openapi-fetch middleware that adds `Authorization: Bearer <getToken()>`. */
export function bearerAuth(getToken: () => string | Promise<string>): Middleware {
  return {
    async onRequest({ request }) {
      const token = await getToken();
      if (token !== "") request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  };
}

/** Whether `body` is a problem document (an error body from tracegate). */
export function isProblem(body: unknown): body is Problem {
  if (typeof body !== "object" || body === null) return false;
  const p = body as Record<string, unknown>;
  return typeof p["type"] === "string" && typeof p["title"] === "string" && typeof p["status"] === "number";
}

/** Every span of a trace, across its resources and scopes. */
export function spansOf(trace: Trace): Span[] {
  return trace.resourceSpans.flatMap((rs) => (rs.scopeSpans ?? []).flatMap((ss) => ss.spans ?? []));
}
