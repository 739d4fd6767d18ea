import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  perSecond: number;
}

export function summarize(latenciesMs: number[], wallMs: number): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), mean, perSecond: (sorted.length * 1000) / wallMs };
}

/**
 * `callers` closed-loop callers sharing this event loop, as concurrent HTTP requests do: each
 * latency runs from the moment a caller asks (it then waits its turn) to its answer.
 */
export async function measureConcurrent(callers: number, total: number, call: (index: number) => unknown): Promise<LatencySummary> {
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < total) {
        const index = next++;
        const asked = performance.now();
        await yieldToEventLoop();
        await call(index);
        latencies.push(performance.now() - asked);
      }
    }),
  );
  return summarize(latencies, performance.now() - start);
}

export function formatLatency(summary: LatencySummary): string {
  return `p50 ${summary.p50.toFixed(2)} ms, p95 ${summary.p95.toFixed(2)} ms, p99 ${summary.p99.toFixed(2)} ms, ${summary.perSecond.toFixed(0)}/s`;
}
