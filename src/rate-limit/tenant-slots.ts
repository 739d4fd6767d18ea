/**
 * At most `perTenant` requests of one tenant run at once; the others wait their turn in arrival
 * order. A tenant's whole per-second budget can arrive in one burst at the start of a rate-limit
 * window: without this, another tenant's request would wait behind all of it on the event loop
 * and the search threads.
 */
export class TenantSlots {
  private readonly tenants = new Map<string, { running: number; waiting: Array<() => void> }>();

  constructor(private readonly perTenant: number) {}

  /** Resolves when the request may run; call the returned release exactly once when it is done. */
  async acquire(tenantId: string): Promise<() => void> {
    let tenant = this.tenants.get(tenantId);
    if (!tenant) {
      tenant = { running: 0, waiting: [] };
      this.tenants.set(tenantId, tenant);
    }
    if (tenant.running < this.perTenant) tenant.running += 1;
    else await new Promise<void>((resolve) => tenant.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = tenant.waiting.shift();
      if (next) return next(); // the slot passes on: running stays the same
      tenant.running -= 1;
      if (tenant.running === 0) this.tenants.delete(tenantId);
    };
  }
}
