import type { ThrottlerStorage } from '@nestjs/throttler';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

interface Window {
  hits: number;
  /** epoch ms when the current window ends */
  endsAt: number;
  /** epoch ms when a block ends; 0 when not blocked */
  blockedUntil: number;
}

/** how often expired windows are dropped, at most */
const SWEEP_INTERVAL_MS = 10_000;

/**
 * Fixed-window counters per tracker and throttler, with blocking: the same algorithm as the Redis
 * storage's script, so a limit behaves alike on one instance and on many.
 *
 * @nestjs/throttler's own in-memory storage keeps one timestamp per hit and filters that list on
 * every request: at a few hundred requests/s per key each request copied arrays of hundreds of
 * entries (~34 kB of garbage per request here). This costs one Map lookup.
 */
export class InProcessThrottlerStorage implements ThrottlerStorage {
  private readonly windows = new Map<string, Window>();
  private nextSweepAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** trackers with a live window or block (for tests) */
  get size(): number {
    return this.windows.size;
  }

  increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    return Promise.resolve(this.hit(key, ttl, limit, blockDuration, throttlerName));
  }

  hit(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): ThrottlerStorageRecord {
    const now = this.now();
    if (now >= this.nextSweepAt) this.sweep(now);
    const id = `${throttlerName}\u0000${key}`;
    let window = this.windows.get(id);
    if (!window) {
      window = { hits: 0, endsAt: now + ttl, blockedUntil: 0 };
      this.windows.set(id, window);
    } else if (window.endsAt <= now) {
      // the hit counter's key expired: a new window (a block, if any, runs on by its own clock)
      window.hits = 0;
      window.endsAt = now + ttl;
    }
    // hits count while blocked too, as INCR does: a client that keeps pushing past the limit is
    // blocked again as soon as its block ends, until it backs off for a window
    window.hits += 1;

    let blocked = window.blockedUntil > now;
    if (!blocked && window.hits > limit) {
      blocked = true;
      // without a block duration the caller waits for the window to end
      window.blockedUntil = blockDuration > 0 ? now + blockDuration : window.endsAt;
    }
    return {
      totalHits: window.hits,
      timeToExpire: Math.ceil((window.endsAt - now) / 1000),
      isBlocked: blocked,
      timeToBlockExpire: blocked ? Math.ceil((window.blockedUntil - now) / 1000) : 0,
    };
  }

  private sweep(now: number): void {
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    for (const [id, window] of this.windows) {
      if (window.endsAt <= now && window.blockedUntil <= now) this.windows.delete(id);
    }
  }
}
