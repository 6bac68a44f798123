// tracegate's trace explorer: sign-in, tenant picker, search and trace view.
// Routes live in the URL hash: #/ (search, with ?q=&range=), #/traces/<id>.
import { describeError } from "@tracegate/client";

import { errorBox, fill, h } from "./dom.js";
import { searchView } from "./search.js";
import { Session } from "./session.js";
import { fetchTrace, traceView, type TraceResult } from "./traceview.js";

const session = new Session();
const root = document.getElementById("app") as HTMLElement;
const header = h("header", { class: "top" });
const main = h("main", {});
root.append(header, main);

async function boot(): Promise<void> {
  await session.loadDevTokens();
  // /ui/?tenant=acme (dev mode only): start signed in as that dev tenant.
  const params = new URLSearchParams(location.search);
  const wanted = params.get("tenant");
  if (wanted !== null) {
    const dev = session.devTokens.find((d) => d.tenant === wanted);
    if (dev) session.signIn(dev.token);
    params.delete("tenant");
    const search = params.toString();
    history.replaceState(null, "", location.pathname + (search ? `?${search}` : "") + location.hash);
  }
  window.addEventListener("hashchange", () => void route());
  await route();
}

/** Renders the view the hash names, after making sure someone is signed in. */
async function route(): Promise<void> {
  if (session.token === "") return signInView();
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path = "/", query = ""] = hash.split("?", 2);
  const traceLink = /^\/traces\/([0-9a-fA-F]{1,32})$/.exec(path);
  let prefetched: Promise<TraceResult> | undefined;
  if (session.me === undefined) {
    // A deep link loads its trace while whoami answers: first paint sooner.
    // (For a multi-tenant token without a tenant chosen yet it is a wasted 400.)
    if (traceLink) {
      prefetched = fetchTrace(session, traceLink[1] as string);
      prefetched.catch(() => undefined); // awaited (and reported) by traceView, if used
    }
    const { data, error, response } = await session.api.GET("/api/v1/whoami");
    if (error !== undefined || data === undefined) {
      if (response.status === 401) {
        session.signOut();
        return signInView(describeError(401));
      }
      if (response.status === 403 && session.tenant !== "") {
        // The chosen tenant is no longer granted: choose again.
        session.chooseTenant("");
        return route();
      }
      renderHeader();
      fill(main, errorBox(response.status, describeError(response.status, error, response.headers.get("Retry-After"))));
      return;
    }
    session.me = data;
  }
  renderHeader();
  if (session.multiTenant && session.tenant === "") return tenantPicker();
  if (traceLink) return traceView(main, session, traceLink[1] as string, new URLSearchParams(query), prefetched);
  return searchView(main, session, new URLSearchParams(query));
}

function renderHeader(): void {
  const me = session.me;
  const tenantLabel = session.tenant || me?.tenant || "";
  fill(
    header,
    h("a", { class: "brand", href: "#/" }, "tracegate"),
    h("nav", {}, h("a", { href: "#/" }, "Search")),
    h("span", { class: "spacer" }),
    me && session.multiTenant
      ? h(
          "label",
          { class: "tenant" },
          "Tenant ",
          tenantSelect(me.grantedTenants, session.tenant, (t) => {
            session.chooseTenant(t);
            void route();
          }),
        )
      : tenantLabel && h("span", { class: "tenant", title: "tenant" }, tenantLabel),
    me && h("span", { class: "who", title: `token expires ${new Date(me.expiresAt).toLocaleString()}` }, me.subject || "signed in"),
    session.token &&
      h(
        "button",
        {
          type: "button",
          onclick: () => {
            session.signOut();
            void route();
          },
        },
        "Sign out",
      ),
  );
}

function tenantSelect(tenants: string[], current: string, onChange: (t: string) => void): HTMLSelectElement {
  const sel = h(
    "select",
    { name: "tenant", "aria-label": "tenant" },
    current === "" && h("option", { value: "", disabled: true, selected: true }, "choose…"),
    tenants.map((t) => h("option", { value: t, selected: t === current }, t)),
  );
  sel.addEventListener("change", () => onChange(sel.value));
  return sel;
}

function tenantPicker(): void {
  const me = session.me;
  if (!me) return;
  fill(
    main,
    h(
      "section",
      { class: "card picker" },
      h("h1", {}, "Choose a tenant"),
      h("p", {}, "Your token grants several tenants. Which one do you want to read?"),
      h(
        "ul",
        { class: "tenants" },
        me.grantedTenants.map((t) =>
          h("li", {}, h("button", { type: "button", "data-tenant": t, onclick: () => (session.chooseTenant(t), void route()) }, t)),
        ),
      ),
    ),
  );
}

function signInView(message?: string): void {
  fill(header, h("span", { class: "brand" }, "tracegate"));
  const input = h("textarea", {
    name: "token",
    rows: 4,
    placeholder: "eyJhbGciOi…",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-label": "token",
  });
  const form = h(
    "form",
    { class: "card signin" },
    h("h1", {}, "Sign in"),
    message && h("p", { class: "error", role: "alert" }, message),
    h("p", {}, "Paste an access token (JWT) for tracegate. It is kept in this tab only, and forgotten when the tab closes."),
    input,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign in")),
    session.devTokens.length > 0 &&
      h(
        "div",
        { class: "dev" },
        h("h2", {}, "Dev mode"),
        h("p", {}, "Sign in as a dev tenant:"),
        session.devTokens.map((d) =>
          h("button", { type: "button", "data-dev-tenant": d.tenant, onclick: () => (session.signIn(d.token), void route()) }, d.tenant),
        ),
      ),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (input.value.trim() === "") return;
    session.signIn(input.value);
    void route();
  });
  fill(main, form);
  input.focus();
}

void boot();
