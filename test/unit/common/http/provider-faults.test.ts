/**
 * Dependency faults, the same for every HTTP provider adapter: each one is pointed at the
 * protocol-level fake server, which injects the fault on the adapter's route.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CircuitBreakerRegistry, ProviderClientOptions } from '../../../../src/common/http';
import { DependencyError } from '../../../../src/common/errors';
import { OllamaEmbeddingProvider } from '../../../../src/embeddings/ollama/ollama-embedding.provider';
import { OpenAiEmbeddingProvider } from '../../../../src/embeddings/openai/openai-embedding.provider';
import { OllamaLlmProvider } from '../../../../src/llm/ollama/ollama-llm.provider';
import { OpenAiLlmProvider } from '../../../../src/llm/openai/openai-llm.provider';
import { HttpReranker } from '../../../../src/retrieval/rerank/http-reranker';
import { FakeLlmServer, FakeRoute, startFakeLlmServer } from '../../../support/fake-llm-server';

const API_KEY = 'sk-fault-test-0123456789';
const messages = [{ role: 'user' as const, content: 'what is up' }];

interface AdapterCase {
  name: string;
  provider: string;
  route: FakeRoute;
  /** one call through the adapter; resolves to something non-empty on success */
  call: (options: ProviderClientOptions, signal?: AbortSignal) => Promise<unknown>;
}

const adapters: AdapterCase[] = [
  {
    name: 'openai embeddings',
    provider: 'openai',
    route: '/v1/embeddings',
    call: (o, signal) => new OpenAiEmbeddingProvider(o).embed('fake-embed', ['hello world'], signal),
  },
  {
    name: 'ollama embeddings',
    provider: 'ollama',
    route: '/api/embed',
    call: (o, signal) => new OllamaEmbeddingProvider(o).embed('fake-embed', ['hello world'], signal),
  },
  {
    name: 'openai chat',
    provider: 'openai',
    route: '/v1/chat/completions',
    call: (o, signal) =>
      new OpenAiLlmProvider({ ...o, firstByteTimeoutMs: o.timeoutMs }).complete({ model: 'fake-chat', messages, signal }),
  },
  {
    name: 'openai chat stream',
    provider: 'openai',
    route: '/v1/chat/completions',
    call: (o, signal) =>
      new OpenAiLlmProvider({ ...o, firstByteTimeoutMs: o.timeoutMs }).stream({ model: 'fake-chat', messages, signal }).result,
  },
  {
    name: 'ollama chat',
    provider: 'ollama',
    route: '/api/chat',
    call: (o, signal) =>
      new OllamaLlmProvider({ ...o, firstByteTimeoutMs: o.timeoutMs }).complete({ model: 'fake-chat', messages, signal }),
  },
  {
    name: 'ollama chat stream',
    provider: 'ollama',
    route: '/api/chat',
    call: (o, signal) =>
      new OllamaLlmProvider({ ...o, firstByteTimeoutMs: o.timeoutMs }).stream({ model: 'fake-chat', messages, signal }).result,
  },
  {
    name: 'cohere-style rerank',
    provider: 'cohere',
    route: '/rerank',
    call: (o, signal) =>
      new HttpReranker({ ...o, provider: 'cohere', model: 'fake-rerank' }).rerank('hello', ['hello world', 'bye'], 2, signal),
  },
];

let server: FakeLlmServer;
let breakers: CircuitBreakerRegistry;

beforeAll(async () => {
  server = await startFakeLlmServer({ apiKey: API_KEY });
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  server.reset();
  breakers?.shutdown();
});

/** Small timeouts and backoffs so the whole matrix runs in a few seconds; a fresh breaker each test. */
function options(overrides: Partial<ProviderClientOptions> = {}): ProviderClientOptions {
  breakers = new CircuitBreakerRegistry();
  return {
    baseUrl: server.url,
    apiKey: API_KEY,
    timeoutMs: 1_000,
    retry: { retries: 2, backoffBaseMs: 5, backoffMaxMs: 20 },
    breaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 250, rollingWindowMs: 5_000 },
    breakers,
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<DependencyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DependencyError);
  return error as DependencyError;
}

describe.each(adapters)('$name under faults', ({ provider, route, call }) => {
  it('answers when nothing is wrong (the baseline the fault tests depart from)', async () => {
    await expect(call(options())).resolves.toBeTruthy();
    expect(server.requestsTo(route)).toHaveLength(1);
  });

  it('a server slower than the timeout gives a 504 timeout naming the provider, without retrying', async () => {
    server.fail(route, { kind: 'delay', ms: 1_000 });
    const started = Date.now();
    const error = await failure(call(options({ timeoutMs: 150 })));
    expect(Date.now() - started).toBeLessThan(900);
    expect(error.failure).toBe('timeout');
    expect(error.status).toBe(504);
    expect(error.dependency).toBe(provider);
    expect(error.message).toMatch(new RegExp(`^${provider}: `));
    expect(server.requestsTo(route)).toHaveLength(1);
  });

  it('a 429 with Retry-After is waited out and retried, then succeeds', async () => {
    server.fail(route, { kind: 'status', status: 429, retryAfter: '0.3' });
    const started = Date.now();
    await expect(call(options())).resolves.toBeTruthy();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(server.requestsTo(route)).toHaveLength(2);
  });

  it('a 429 asking for a longer wait than allowed fails at once, passing Retry-After on', async () => {
    server.fail(route, { kind: 'status', status: 429, retryAfter: 120 });
    const error = await failure(call(options()));
    expect(error.failure).toBe('unavailable');
    expect(error.status).toBe(503);
    expect(error.headers['Retry-After']).toBe('120');
    expect(server.requestsTo(route)).toHaveLength(1);
  });

  it('repeated 500s fail after the retries, then the open circuit fails fast, then a half-open trial recovers', async () => {
    const opts = options();
    server.fail(route, { kind: 'status', status: 500 }, 3);
    const error = await failure(call(opts));
    expect(error.failure).toBe('unavailable');
    expect(error.message).toContain('500');
    expect(server.requestsTo(route)).toHaveLength(3);

    const open = await failure(call(opts));
    expect(open.failure).toBe('circuit_open');
    expect(open.status).toBe(503);
    expect(server.requestsTo(route)).toHaveLength(3);

    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(call(opts)).resolves.toBeTruthy();
    await expect(call(opts)).resolves.toBeTruthy();
    expect(server.requestsTo(route)).toHaveLength(5);
  });

  it('a reset connection is retried', async () => {
    server.fail(route, { kind: 'reset' });
    await expect(call(options())).resolves.toBeTruthy();
    expect(server.requestsTo(route)).toHaveLength(2);
  });

  it('a connection that keeps being reset ends as unavailable (503)', async () => {
    server.fail(route, { kind: 'reset' }, Infinity);
    const error = await failure(call(options({ breaker: false })));
    expect(error.failure).toBe('unavailable');
    expect(error.status).toBe(503);
    expect(server.requestsTo(route)).toHaveLength(3);
  });

  it('malformed JSON is a bad_response (502), not retried', async () => {
    server.fail(route, { kind: 'malformed-json' });
    const error = await failure(call(options()));
    expect(error.failure).toBe('bad_response');
    expect(error.status).toBe(502);
    expect(server.requestsTo(route)).toHaveLength(1);
  });

  it('JSON of the wrong shape is a bad_response', async () => {
    server.fail(route, { kind: 'wrong-shape' });
    const error = await failure(call(options()));
    expect(error.failure).toBe('bad_response');
  });

  it('refused credentials are rejected (502), never retried, and never open the circuit', async () => {
    const opts = options({ apiKey: 'sk-wrong-key-9876543210' });
    const statusFor401 = route.startsWith('/api/') ? { kind: 'status' as const, status: 401 } : undefined;
    for (let i = 0; i < 5; i++) {
      if (statusFor401) server.fail(route, statusFor401);
      const error = await failure(call(opts));
      expect(error.failure).toBe('rejected');
      expect(error.retryable).toBe(false);
      expect(error.message).not.toContain('sk-wrong-key-9876543210');
    }
    expect(server.requestsTo(route)).toHaveLength(5);
  });

  it("the caller's abort stops the call at once, with the caller's reason, and the server sees the hang-up", async () => {
    server.fail(route, { kind: 'delay', ms: 2_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    const error = await call(options({ timeoutMs: 5_000 }), controller.signal).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((error as Error).name).toBe('AbortError');
    expect(error).not.toBeInstanceOf(DependencyError);
    await expect.poll(() => server.requestsTo(route)[0]?.closedEarly).toBe(true);
  });

  it('an unreachable server is unavailable (503)', async () => {
    const closed = await startFakeLlmServer();
    const url = closed.url;
    await closed.close();
    const error = await failure(call(options({ baseUrl: url, breaker: false })));
    expect(error.failure).toBe('unavailable');
    expect(error.message).toContain('ECONNREFUSED');
  });
});

describe('ollama chat stream', () => {
  it('quotes an error object the stream reports, rather than printing [object Object]', async () => {
    server.fail('/api/chat', { kind: 'status', status: 200, body: { error: { message: 'model is loading' } } });
    const stream = new OllamaLlmProvider({ ...options(), firstByteTimeoutMs: 1_000 }).stream({ model: 'fake-chat', messages });
    const error = await failure(stream.result);
    expect(error.failure).toBe('bad_response');
    expect(error.message).toContain('stream reported an error: {"message":"model is loading"}');
  });
});
