import type { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';

/** Each dependency check is bounded: a hung dependency reports down, it never hangs the probe. */
export const CHECK_TIMEOUT_MS = 2_000;

/**
 * `work`'s result, or a rejection `no answer within N ms` once `timeoutMs` pass; the signal handed
 * to `work` aborts at that moment, so work still waiting to start can give up.
 */
export async function withTimeout<T>(timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abandoned = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work(abandoned.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          abandoned.abort();
          reject(new Error(`no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function timedCheck(
  indicators: HealthIndicatorService,
  key: string,
  probe: () => Promise<string>,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<HealthIndicatorResult> {
  const session = indicators.check(key);
  const started = performance.now();
  try {
    const message = await withTimeout(timeoutMs, probe);
    return session.up({ message, latency_ms: Math.round((performance.now() - started) * 100) / 100 });
  } catch (error) {
    return session.down({
      message: (error as Error).message.slice(0, 300),
      latency_ms: Math.round((performance.now() - started) * 100) / 100,
    });
  }
}
