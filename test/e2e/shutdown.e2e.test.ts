import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceProcess, type ServiceProcess } from '../support/service-process';
import { api, TEST_ADMIN_KEY } from '../support/test-app';

describe('graceful shutdown under load', () => {
  let service: ServiceProcess;
  let key: string;

  beforeAll(async () => {
    service = await startServiceProcess({
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      SHUTDOWN_TIMEOUT_MS: '8000',
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MANAGEMENT_RPS: '100000',
    });
    const admin = api(service.baseUrl, TEST_ADMIN_KEY);
    const tenant = await admin.post('/v1/tenants', { name: 'load' });
    key = (await admin.post(`/v1/tenants/${tenant.body.id}/api-keys`, { name: 'k', scopes: ['admin'] })).body.key;
    await api(service.baseUrl, key).post('/v1/knowledge-bases', { name: 'kb' });
  }, 60_000);

  afterAll(async () => {
    await service?.kill();
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
  });

  it('completes every request accepted before SIGTERM, refuses new ones, and exits 0 within the grace period', async () => {
    let signalledAt = Number.POSITIVE_INFINITY;
    const outcomes: Array<{ startedAt: number; status?: number; error?: string }> = [];
    let stop = false;
    const client = async () => {
      while (!stop) {
        const startedAt = performance.now();
        try {
          const res = await fetch(`${service.baseUrl}/v1/knowledge-bases?limit=5`, { headers: { authorization: `Bearer ${key}` } });
          await res.text();
          outcomes.push({ startedAt, status: res.status });
        } catch (error) {
          outcomes.push({ startedAt, error: String((error as Error & { cause?: { code?: string } }).cause?.code ?? error) });
          if (performance.now() > signalledAt) return;
        }
      }
    };
    const clients = Array.from({ length: 32 }, client);
    await new Promise((r) => setTimeout(r, 1500));
    signalledAt = performance.now();
    const exitCode = service.stop('SIGTERM');
    const code = await exitCode;
    const exitedAfterMs = performance.now() - signalledAt;
    stop = true;
    await Promise.all(clients);

    expect(code).toBe(0);
    expect(exitedAfterMs).toBeLessThan(8000);
    const beforeSignal = outcomes.filter((o) => o.startedAt < signalledAt - 50);
    expect(beforeSignal.length).toBeGreaterThan(50);
    expect(beforeSignal.filter((o) => o.status !== 200)).toEqual([]);
    expect(outcomes.filter((o) => o.status !== undefined && o.status >= 500)).toEqual([]);
  });
});

/** One request on a connection of its own; resolves with the status or the transport error's code. */
function requestOnFreshConnection(port: number, key: string): Promise<{ status?: number; error?: string }> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/v1/knowledge-bases?limit=5', agent: false, headers: { authorization: `Bearer ${key}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode }));
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end();
  });
}

/**
 * A keep-alive connection that got one answer before the signal and sends its next request only
 * once `reuse` resolves (after the listener closed), as a pooled client does at any moment.
 */
async function reusedConnection(
  port: number,
  key: string,
  ready: Promise<void>[],
  reuse: Promise<void>,
): Promise<{ status?: number; error?: string }> {
  const request = `GET /v1/knowledge-bases?limit=5 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n\r\n`;
  const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
  let received = '';
  let closed = false;
  const firstAnswer = new Promise<void>((resolve) => {
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const head = received.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(received)?.[1] ?? -1);
      if (head >= 0 && length >= 0 && received.length >= head + 4 + length) resolve();
    });
  });
  ready.push(firstAnswer);
  const outcome = new Promise<{ status?: number; error?: string }>((resolve) => {
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    socket.once('close', () => {
      closed = true;
      const status = /HTTP\/1\.1 (\d{3}) [^]*HTTP\/1\.1 (\d{3}) /.exec(received)?.[2];
      resolve(status ? { status: Number(status) } : { error: 'closed without a second answer' });
    });
  });
  await firstAnswer;
  await reuse;
  if (!closed) socket.write(request);
  return outcome;
}

describe('requests racing SIGTERM', () => {
  let service: ServiceProcess;
  let key: string;

  beforeAll(async () => {
    service = await startServiceProcess({
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      SHUTDOWN_TIMEOUT_MS: '8000',
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MANAGEMENT_RPS: '100000',
    });
    const admin = api(service.baseUrl, TEST_ADMIN_KEY);
    const tenant = await admin.post('/v1/tenants', { name: 'race' });
    key = (await admin.post(`/v1/tenants/${tenant.body.id}/api-keys`, { name: 'k', scopes: ['admin'] })).body.key;
  }, 60_000);

  afterAll(async () => {
    await service?.kill();
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
  });

  it('answers every accepted connection (200 or 503), whether its request came before, with or after the signal: never a reset', async () => {
    // keep-alive clients in a loop through most of the drain window. They stop before the listener
    // closes, as the load balancer stops sending during the window (the preStop sleep): a connection
    // still in the kernel's accept queue when a listening socket closes is reset by the kernel
    let listenerGone = false;
    const looped: Array<{ status?: number; error?: string }> = [];
    const loop = async () => {
      while (!listenerGone) {
        try {
          const res = await fetch(`${service.baseUrl}/v1/knowledge-bases?limit=5`, { headers: { authorization: `Bearer ${key}` } });
          await res.text();
          looped.push({ status: res.status });
        } catch (error) {
          const code = String((error as Error & { cause?: { code?: string } }).cause?.code ?? error);
          // a connection the kernel refused was never accepted: the listener is closed, stop
          if (code === 'ECONNREFUSED') listenerGone = true;
          else looped.push({ error: code });
        }
      }
    };
    const loops = Array.from({ length: 16 }, loop);
    // keep-alive connections, answered once before the signal, reused only after the listener closed
    const ready: Promise<void>[] = [];
    let writeLate!: () => void;
    const late = new Promise<void>((resolve) => (writeLate = resolve));
    const lateOnes = Array.from({ length: 10 }, () => reusedConnection(service.port, key, ready, late));
    await Promise.all(ready);
    await new Promise((r) => setTimeout(r, 500));

    const exited = service.stop('SIGTERM');
    setTimeout(() => (listenerGone = true), 800);
    // fresh connections opened just as the signal is sent, and over the drain window
    const fresh = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        new Promise((r) => setTimeout(r, i * 40)).then(() => requestOnFreshConnection(service.port, key)),
      ),
    );
    await new Promise((r) => setTimeout(r, 1000)); // past the drain window: the listener is closed
    expect(await requestOnFreshConnection(service.port, key)).toEqual({ error: 'ECONNREFUSED' });
    writeLate();
    const lateOutcomes = await Promise.all(lateOnes);
    listenerGone = true;
    await Promise.all(loops);
    expect(await exited).toBe(0);

    const answered = (o: { status?: number }) => o.status === 200 || o.status === 503;
    expect({
      late: lateOutcomes.filter((o) => !answered(o)),
      fresh: fresh.filter((o) => !answered(o)),
      looped: looped.filter((o) => !answered(o)),
    }).toEqual({ late: [], fresh: [], looped: [] });
    expect(looped.length).toBeGreaterThan(20);
  }, 30_000);
});
