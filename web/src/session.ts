// Who is signed in: the token (sessionStorage only: it is gone when the tab
// closes), the tenant chosen for multi-tenant tokens, and the API client.
import { createTracegateClient, type TracegateClient, type Whoami } from "@tracegate/client";

const TOKEN_KEY = "tracegate.token";
const TENANT_KEY = "tracegate.tenant";

export interface DevToken {
  tenant: string;
  token: string;
}

export class Session {
  token = sessionStorage.getItem(TOKEN_KEY) ?? "";
  tenant = sessionStorage.getItem(TENANT_KEY) ?? "";
  me: Whoami | undefined;
  /** Dev mode's tokens (empty outside `tracegate dev`). */
  devTokens: DevToken[] = [];
  readonly api: TracegateClient = createTracegateClient(location.origin, () => this.token, {
    tenant: () => this.tenant,
  });

  signIn(token: string): void {
    this.token = token.trim().replace(/^Bearer\s+/i, "");
    this.tenant = "";
    this.me = undefined;
    sessionStorage.setItem(TOKEN_KEY, this.token);
    sessionStorage.removeItem(TENANT_KEY);
  }

  signOut(): void {
    this.token = "";
    this.tenant = "";
    this.me = undefined;
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(TENANT_KEY);
  }

  chooseTenant(tenant: string): void {
    this.tenant = tenant;
    sessionStorage.setItem(TENANT_KEY, tenant);
  }

  /** Whether the token grants several tenants, so a tenant must be picked. */
  get multiTenant(): boolean {
    return (this.me?.grantedTenants.length ?? 0) > 1;
  }

  /** Dev mode serves dev tokens at ui/dev.json; elsewhere that file lists none. */
  async loadDevTokens(): Promise<void> {
    try {
      const res = await fetch(new URL("dev.json", location.href.split("#")[0]), { cache: "no-store" });
      const body = (await res.json()) as { tokens?: DevToken[] };
      this.devTokens = Array.isArray(body.tokens) ? body.tokens : [];
    } catch {
      this.devTokens = [];
    }
  }
}
