import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CircuitBreakerRegistry,
  fullJitterDelay,
  openAiApiRoot,
  parseRetryAfter,
  ProviderHttpClient,
  ProviderHttpOptions,
} from '../../../../src/common/http';
import { DependencyError } from '../../../../src/common/errors';
import { FakeLlmServer, startFakeLlmServer } from '../../../support/fake-llm-server';

let server: FakeLlmServer;
let breakers: CircuitBreakerRegistry;

beforeAll(async () => {
  server = await startFakeLlmServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  server.reset();
  breakers?.shutdown();
});

function client(overrides: Partial<ProviderHttpOptions> = {}): ProviderHttpClient {
  breakers = overrides.breakers ?? new CircuitBreakerRegistry();
  return new ProviderHttpClient({
    provider: 'openai',
    baseUrl: server.url,
    timeoutMs: 1_000,
    retry: { retries: 2, backoffBaseMs: 5, backoffMaxMs: 20 },
    breakers,
    ...overrides,
  });
}

const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e as DependencyError,
  );

describe('backoff and Retry-After', () => {
  it('full jitter stays below min(max, base · 2^attempt)', () => {
    const almostOne = () => 0.9999;
    expect(fullJitterDelay(0, 100, 1_000, almostOne)).toBe(99);
    expect(fullJitterDelay(3, 100, 1_000, almostOne)).toBe(799);
    expect(fullJitterDelay(10, 100, 1_000, almostOne)).toBe(999);
    expect(fullJitterDelay(5, 100, 1_000, () => 0)).toBe(0);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('waits the whole seconds a 429 asks for before trying again', async () => {
    server.fail('/v1/models', { kind: 'status', status: 429, retryAfter: 1 });
    const started = Date.now();
    await expect(client().getJson('/v1/models')).resolves.toMatchObject({ object: 'list' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(server.requestsTo('/v1/models')).toHaveLength(2);
  });

  it('backs off between retries of 5xx, by the jittered exponential schedule', async () => {
    server.fail('/v1/models', { kind: 'status', status: 503 }, 2);
    const started = Date.now();
    await client({ retry: { retries: 2, backoffBaseMs: 100, backoffMaxMs: 1_000 }, random: () => 0.99 }).getJson('/v1/models');
    expect(Date.now() - started).toBeGreaterThanOrEqual(99 + 198 - 5);
    expect(server.requestsTo('/v1/models')).toHaveLength(3);
  });

  it("an abort during the backoff stops at once with the caller's reason", async () => {
    server.fail('/v1/models', { kind: 'status', status: 429, retryAfter: 5 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('client went away')), 100);
    const started = Date.now();
    await expect(client().getJson('/v1/models', { signal: controller.signal })).rejects.toThrow('client went away');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(server.requestsTo('/v1/models')).toHaveLength(1);
  });
});

describe('which failures are retried', () => {
  it.each([408, 429, 500, 502, 503, 504])('%i is retried', async (status) => {
    server.fail('/v1/models', { kind: 'status', status });
    await client().getJson('/v1/models');
    expect(server.requestsTo('/v1/models')).toHaveLength(2);
  });

  it.each([
    [400, 'rejected'],
    [401, 'rejected'],
    [403, 'rejected'],
    [404, 'rejected'],
    [422, 'rejected'],
    [501, 'rejected'],
  ])('%i is not retried and fails as %s', async (status, failure) => {
    server.fail('/v1/models', { kind: 'status', status });
    const error = await failureOf(client().getJson('/v1/models'));
    expect(error).toBeInstanceOf(DependencyError);
    expect(error!.failure).toBe(failure);
    expect(error!.status).toBe(502);
    expect(server.requestsTo('/v1/models')).toHaveLength(1);
  });

  it('a timed-out attempt is retried only when retryOnTimeout is on', async () => {
    server.fail('/v1/models', { kind: 'delay', ms: 500 });
    await expect(client({ timeoutMs: 100 }).getJson('/v1/models')).rejects.toMatchObject({ failure: 'timeout' });
    server.reset();
    server.fail('/v1/models', { kind: 'delay', ms: 500 });
    await expect(client({ timeoutMs: 100, retry: { retryOnTimeout: true, backoffBaseMs: 1 } }).getJson('/v1/models')).resolves.toBeTruthy();
    expect(server.requestsTo('/v1/models')).toHaveLength(2);
  });
});

describe('error messages', () => {
  it("carry the provider's own message, with our key masked if the provider echoes it", async () => {
    const key = 'sk-live-secret-abcdef123456';
    server.fail('/v1/models', { kind: 'status', status: 400, body: { error: { message: `Model not found for key ${key}` } } });
    const error = await failureOf(client({ headers: { authorization: `Bearer ${key}` } }).getJson('/v1/models'));
    expect(error!.message).toBe('openai: GET /v1/models refused the request (400): Model not found for key [REDACTED]');
    expect(JSON.stringify(error)).not.toContain(key);
  });
});

describe('circuit breakers', () => {
  it('are shared per provider and base URL', async () => {
    const registry = new CircuitBreakerRegistry();
    const options = { breakers: registry, retry: { retries: 0 }, breaker: { volumeThreshold: 2, resetTimeoutMs: 10_000 } };
    const first = client(options);
    const sameEndpoint = client(options);
    const otherProvider = client({ ...options, provider: 'vllm' });
    server.fail('/v1/models', { kind: 'status', status: 500 }, 2);
    await failureOf(first.getJson('/v1/models'));
    await failureOf(first.getJson('/v1/models'));
    await expect(sameEndpoint.getJson('/v1/models')).rejects.toMatchObject({ failure: 'circuit_open' });
    await expect(otherProvider.getJson('/v1/models')).resolves.toBeTruthy();
    expect(registry.states()).toEqual([
      { key: `openai ${server.url}`, state: 'open' },
      { key: `vllm ${server.url}`, state: 'closed' },
    ]);
    registry.shutdown();
  });

  it('answers of the wrong kind (malformed JSON) do not open the circuit', async () => {
    const c = client({ breaker: { volumeThreshold: 2 } });
    server.fail('/v1/models', { kind: 'malformed-json' }, 4);
    for (let i = 0; i < 4; i++) await expect(c.getJson('/v1/models')).rejects.toMatchObject({ failure: 'bad_response' });
    await expect(c.getJson('/v1/models')).resolves.toBeTruthy();
  });

  it('a failed half-open trial opens the circuit again', async () => {
    const c = client({ retry: { retries: 0 }, breaker: { volumeThreshold: 1, resetTimeoutMs: 150 } });
    server.fail('/v1/models', { kind: 'status', status: 500 }, 2);
    await expect(c.getJson('/v1/models')).rejects.toMatchObject({ failure: 'unavailable' });
    await expect(c.getJson('/v1/models')).rejects.toMatchObject({ failure: 'circuit_open' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expect(c.getJson('/v1/models')).rejects.toMatchObject({ failure: 'unavailable' });
    await expect(c.getJson('/v1/models')).rejects.toMatchObject({ failure: 'circuit_open' });
    expect(server.requestsTo('/v1/models')).toHaveLength(2);
  });
});

describe('OpenAI-compatible API root', () => {
  it.each([
    ['http://vllm:8000', 'http://vllm:8000/v1'],
    ['http://vllm:8000/', 'http://vllm:8000/v1'],
    ['https://api.openai.com/v1', 'https://api.openai.com/v1'],
    ['https://api.openai.com/v1/', 'https://api.openai.com/v1'],
    ['https://api.groq.com/openai/v1', 'https://api.groq.com/openai/v1'],
    ['https://generativelanguage.googleapis.com/v1beta/openai/', 'https://generativelanguage.googleapis.com/v1beta/openai'],
  ])('%s → %s', (base, root) => {
    expect(openAiApiRoot(base)).toBe(root);
  });
});
