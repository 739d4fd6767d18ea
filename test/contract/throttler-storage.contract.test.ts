import type { ThrottlerStorage } from '@nestjs/throttler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessThrottlerStorage } from '../../src/rate-limit/in-process-throttler-storage';
import { RedisThrottlerStorage } from '../../src/rate-limit/rate-limit.module';
import { startRedis, type RedisServer } from '../support/redis-server';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The same timed sequence against the in-process storage and the Redis one (its Lua script on a
 * private redis-server): a limit must behave alike on one instance and on many. Steps sit at
 * least 200 ms from any window or block edge.
 */
async function sequence(storage: ThrottlerStorage, key: string): Promise<string[]> {
  const hit = async (label: string) => {
    const record = await storage.increment(key, 1000, 3, 400, 'default');
    return `${label}:${record.isBlocked ? 'blocked' : 'ok'}:${record.totalHits}`;
  };
  const seen: string[] = [];
  for (let i = 0; i < 5; i++) seen.push(await hit('t0'));
  await sleep(600); // the block (400 ms) is over, the window (1 s) is not: 6 > 3, blocked again
  seen.push(await hit('t600'));
  await sleep(700); // window and block over
  for (let i = 0; i < 4; i++) seen.push(await hit('t1300'));
  return seen;
}

describe('rate-limit storages agree (in process and Redis)', () => {
  let redis: RedisServer;
  let redisStorage: RedisThrottlerStorage;
  beforeAll(async () => {
    redis = await startRedis();
    redisStorage = new RedisThrottlerStorage(redis.url);
  }, 30_000);
  afterAll(async () => {
    redisStorage?.onModuleDestroy();
    await redis?.stop();
  });

  it('give the same verdicts and counts for the same hits over time', async () => {
    const [inProcess, inRedis] = await Promise.all([sequence(new InProcessThrottlerStorage(), 'key:a'), sequence(redisStorage, 'key:a')]);
    expect(inProcess).toEqual([
      't0:ok:1',
      't0:ok:2',
      't0:ok:3',
      't0:blocked:4',
      't0:blocked:5',
      't600:blocked:6',
      't1300:ok:1',
      't1300:ok:2',
      't1300:ok:3',
      't1300:blocked:4',
    ]);
    expect(inRedis).toEqual(inProcess);
  }, 20_000);
});
