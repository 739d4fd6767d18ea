import { describe, expect, it } from 'vitest';
import { TenantSlots } from '../../../src/rate-limit/tenant-slots';

const tick = () => new Promise((r) => setImmediate(r));

describe('TenantSlots', () => {
  it("runs at most N of a tenant's requests at once, the rest in arrival order, without holding up other tenants", async () => {
    const slots = new TenantSlots(2);
    const started: string[] = [];
    const releases: Record<string, () => void> = {};
    const run = (tenant: string, id: string) =>
      slots.acquire(tenant).then((release) => {
        started.push(id);
        releases[id] = release;
      });
    void run('a', 'a1');
    void run('a', 'a2');
    void run('a', 'a3');
    void run('a', 'a4');
    void run('b', 'b1');
    await tick();
    expect(started).toEqual(['a1', 'a2', 'b1']);
    releases.a1();
    releases.a1(); // a second release is ignored
    await tick();
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3']);
    releases.a2();
    await tick();
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3', 'a4']);
    releases.a3();
    releases.a4();
    void run('a', 'a5');
    void run('a', 'a6');
    await tick();
    expect(started.slice(-2)).toEqual(['a5', 'a6']);
  });
});
