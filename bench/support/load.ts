import * as http from 'node:http';

export interface LoadRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** label to group results by (e.g. the route) */
  label?: string;
}

export interface LoadResult {
  requests: number;
  errors: number;
  non2xx: number;
  seconds: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  byLabel: Record<string, { requests: number; errors: number; non2xx: number; p50: number; p95: number; p99: number; rps: number }>;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Closed-loop load: `connections` clients, each sending the next request as soon as one answers. */
export async function runLoad(
  baseUrl: string,
  options: { connections: number; seconds: number; next: (i: number) => LoadRequest },
): Promise<LoadResult> {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const latencies: Record<string, number[]> = {};
  const counts: Record<string, { errors: number; non2xx: number }> = {};
  let sent = 0;
  const deadline = performance.now() + options.seconds * 1000;
  const started = performance.now();
  const one = (request: LoadRequest) =>
    new Promise<void>((resolve) => {
      const label = request.label ?? request.path;
      const t0 = performance.now();
      const req = http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          method: request.method,
          path: request.path,
          headers: {
            ...(request.body && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(request.body) }),
            ...request.headers,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            (latencies[label] ??= []).push(performance.now() - t0);
            const c = (counts[label] ??= { errors: 0, non2xx: 0 });
            if ((res.statusCode ?? 0) >= 300) c.non2xx += 1;
            resolve();
          });
        },
      );
      req.on('error', () => {
        (counts[label] ??= { errors: 0, non2xx: 0 }).errors += 1;
        resolve();
      });
      if (request.body) req.write(request.body);
      req.end();
    });
  await Promise.all(
    Array.from({ length: options.connections }, async () => {
      while (performance.now() < deadline) await one(options.next(sent++));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  const all = Object.values(latencies)
    .flat()
    .sort((a, b) => a - b);
  const byLabel: LoadResult['byLabel'] = {};
  for (const [label, values] of Object.entries(latencies)) {
    values.sort((a, b) => a - b);
    const c = counts[label] ?? { errors: 0, non2xx: 0 };
    byLabel[label] = {
      requests: values.length,
      errors: c.errors,
      non2xx: c.non2xx,
      p50: percentile(values, 50),
      p95: percentile(values, 95),
      p99: percentile(values, 99),
      rps: values.length / seconds,
    };
  }
  const errors = Object.values(counts).reduce((s, c) => s + c.errors, 0);
  const non2xx = Object.values(counts).reduce((s, c) => s + c.non2xx, 0);
  return {
    requests: all.length,
    errors,
    non2xx,
    seconds,
    rps: all.length / seconds,
    p50: percentile(all, 50),
    p95: percentile(all, 95),
    p99: percentile(all, 99),
    byLabel,
  };
}

export interface PacedResult {
  /** requests per second offered (the schedule) */
  offered: number;
  /** requests per second answered */
  achieved: number;
  requests: number;
  errors: number;
  non2xx: number;
  /** latencies in ms, counted from when each request was due, not from when a connection was free */
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * Open-loop load at a fixed rate over at most `connections` keep-alive connections (wrk2-style):
 * request i is due at start + i / rate whether or not earlier ones have been answered, and its
 * latency counts from that moment, so time spent waiting for a free connection behind a slow
 * answer is part of it (no coordinated omission). A server that cannot keep up shows it as an
 * achieved rate below the offered one and latencies that grow with the run.
 */
export async function runPacedLoad(
  baseUrl: string,
  options: { connections: number; rate: number; seconds: number; next: (i: number) => LoadRequest },
): Promise<PacedResult> {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const total = Math.max(1, Math.round(options.rate * options.seconds));
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  let issued = 0;
  const inFlight: Promise<void>[] = [];
  const one = (request: LoadRequest, dueAt: number) =>
    new Promise<void>((resolve) => {
      const req = http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          method: request.method,
          path: request.path,
          headers: {
            ...(request.body && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(request.body) }),
            ...request.headers,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - dueAt);
            if ((res.statusCode ?? 0) >= 300) non2xx += 1;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors += 1;
        resolve();
      });
      if (request.body) req.write(request.body);
      req.end();
    });
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = performance.now() - started;
      const due = Math.min(total, Math.floor((elapsed / 1000) * options.rate) + 1);
      for (; issued < due; issued++) inFlight.push(one(options.next(issued), started + (issued / options.rate) * 1000));
      if (issued >= total) resolve();
      else setTimeout(tick, Math.max(0, Math.min(5, (issued / options.rate) * 1000 - (performance.now() - started))));
    };
    tick();
  });
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    offered: options.rate,
    achieved: latencies.length / seconds,
    requests: latencies.length,
    errors,
    non2xx,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? 0,
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
