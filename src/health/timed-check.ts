import type { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';

/** Each dependency check is bounded: a hung dependency reports down, it never hangs the probe. */
export const CHECK_TIMEOUT_MS = 2_000;

export async function timedCheck(
  indicators: HealthIndicatorService,
  key: string,
  probe: () => Promise<string>,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<HealthIndicatorResult> {
  const session = indicators.check(key);
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const message = await Promise.race([
      probe(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return session.up({ message, latency_ms: Math.round((performance.now() - started) * 100) / 100 });
  } catch (error) {
    return session.down({ message: (error as Error).message.slice(0, 300), latency_ms: Math.round((performance.now() - started) * 100) / 100 });
  } finally {
    if (timer) clearTimeout(timer);
  }
}
