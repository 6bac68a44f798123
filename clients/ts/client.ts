// Typed client for tracegate's HTTP API, for web frontends.
//
// The types come from openapi.yaml (gen/ts/schema.d.ts, `npm run gen:ts`);
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
import type { components, operations, paths } from "../../gen/ts/schema.js";

export type { components, operations, paths };

/** An RFC 9457 problem document: the body of every tracegate error. */
export type Problem = components["schemas"]["Problem"];
/** A trace: OTLP/JSON `TracesData` plus `traceId`, `partial` and `warnings`. */
export type Trace = components["schemas"]["Trace"];
export type ResourceSpans = components["schemas"]["ResourceSpans"];
export type Span = components["schemas"]["Span"];

/** The openapi-fetch client for tracegate's paths. */
export type TracegateClient = Client<paths>;

/** openapi-fetch's client options, except `baseUrl` (an argument of its own). */
export type TracegateClientOptions = Omit<ClientOptions, "baseUrl">;

/**
 * Returns a typed client for the tracegate at `baseUrl` (for example
 * `https://tracegate.example.com`, or `""` for the page's own origin).
 *
 * `getToken` is called before every request and its JWT is sent as
 * `Authorization: Bearer <token>`; it may refresh the token. An empty token
 * sends no Authorization header (tracegate then answers 401 on /api/v1).
 */
export function createTracegateClient(
  baseUrl: string,
  getToken: () => string | Promise<string>,
  opts: TracegateClientOptions = {},
): TracegateClient {
  const client = createClient<paths>({ ...opts, baseUrl });
  client.use(bearerAuth(getToken));
  return client;
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
