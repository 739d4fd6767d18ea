import { describe, expect, it } from 'vitest';
import { InProcessThrottlerStorage } from '../../../src/rate-limit/in-process-throttler-storage';

function clocked() {
  const clock = { now: 1_000_000 };
  return { clock, storage: new InProcessThrottlerStorage(() => clock.now) };
}

describe('InProcessThrottlerStorage (fixed window, like the Redis script)', () => {
  it('counts hits in a window, blocks past the limit for the block duration, and counts on through the block', () => {
    const { clock, storage } = clocked();
    const hits = Array.from({ length: 3 }, () => storage.hit('key:a', 1000, 3, 2000, 'default'));
    expect(hits.map((h) => [h.totalHits, h.isBlocked])).toEqual([
      [1, false],
      [2, false],
      [3, false],
    ]);
    expect(hits[0].timeToExpire).toBe(1);

    const over = storage.hit('key:a', 1000, 3, 2000, 'default');
    expect(over).toMatchObject({ totalHits: 4, isBlocked: true, timeToBlockExpire: 2 });

    // the window ends but the block does not; the new window counts this rejected hit
    clock.now += 1500;
    expect(storage.hit('key:a', 1000, 3, 2000, 'default')).toMatchObject({ totalHits: 1, isBlocked: true, timeToBlockExpire: 1 });

    clock.now += 600;
    expect(storage.hit('key:a', 1000, 3, 2000, 'default')).toMatchObject({ totalHits: 2, isBlocked: false, timeToBlockExpire: 0 });
  });

  it('blocks again at once a client that kept pushing past the limit through its block', () => {
    const { clock, storage } = clocked();
    const accepted = (n: number) => {
      let ok = 0;
      for (let i = 0; i < n; i++) if (!storage.hit('key:a', 1000, 3, 200, 'default').isBlocked) ok++;
      return ok;
    };
    // 20 requests/s for 10 s against 3/s with a 200 ms block: the first 3, then nothing
    let total = 0;
    for (let tick = 0; tick < 200; tick++) {
      total += accepted(1);
      clock.now += 50;
    }
    expect(total).toBe(3);
    // after backing off for a whole window it is served again
    clock.now += 1000;
    expect(accepted(4)).toBe(3);
  });

  it('resets the count when the window ends', () => {
    const { clock, storage } = clocked();
    storage.hit('key:a', 1000, 5, 1000, 'default');
    storage.hit('key:a', 1000, 5, 1000, 'default');
    clock.now += 1000;
    expect(storage.hit('key:a', 1000, 5, 1000, 'default').totalHits).toBe(1);
  });

  it('keeps trackers and throttlers apart', () => {
    const { storage } = clocked();
    storage.hit('key:a', 1000, 1, 1000, 'default');
    expect(storage.hit('key:a', 1000, 1, 1000, 'default').isBlocked).toBe(true);
    expect(storage.hit('key:b', 1000, 1, 1000, 'default').isBlocked).toBe(false);
    expect(storage.hit('key:a', 1000, 1, 1000, 'tenant').isBlocked).toBe(false);
  });

  it('without a block duration blocks until the window ends', () => {
    const { clock, storage } = clocked();
    storage.hit('key:a', 1000, 1, 0, 'default');
    clock.now += 400;
    expect(storage.hit('key:a', 1000, 1, 0, 'default')).toMatchObject({ isBlocked: true, timeToBlockExpire: 1 });
    clock.now += 600;
    expect(storage.hit('key:a', 1000, 1, 0, 'default')).toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it('drops idle trackers, so memory follows the live keys and not every key ever seen', async () => {
    const { clock, storage } = clocked();
    for (let i = 0; i < 1000; i++) storage.hit(`key:${i}`, 1000, 10, 1000, 'default');
    expect(storage.size).toBe(1000);
    clock.now += 10_001;
    const record = await storage.increment('key:live', 1000, 10, 1000, 'default');
    expect(record.totalHits).toBe(1);
    expect(storage.size).toBe(1);
  });

  it('keeps a blocked tracker through the sweep until its block ends', () => {
    const { clock, storage } = clocked();
    storage.hit('key:a', 1000, 1, 60_000, 'default');
    storage.hit('key:a', 1000, 1, 60_000, 'default');
    clock.now += 10_001;
    storage.hit('key:other', 1000, 1, 60_000, 'default');
    expect(storage.hit('key:a', 1000, 1, 60_000, 'default').isBlocked).toBe(true);
  });
});
