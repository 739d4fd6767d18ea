/**
 * The LlmProvider contract (complete and stream), run against every HTTP adapter through the
 * protocol-level fake server — and, when these are set, the same suite against real servers:
 *   OPENAI_BASE_URL + OPENAI_API_KEY   (model: OPENAI_CHAT_MODEL, default gpt-4o-mini)
 *   OLLAMA_URL                          (model: OLLAMA_CHAT_MODEL, default llama3.2)
 * Dependency faults (timeouts, 429, 500, circuit breaker…) are in test/unit/http/provider-faults.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitBreakerRegistry } from '../../src/common/http';
import { DependencyError } from '../../src/common/errors';
import { LlmProvider } from '../../src/llm/llm-provider.port';
import { OllamaLlmProvider } from '../../src/llm/ollama/ollama-llm.provider';
import { OpenAiLlmProvider } from '../../src/llm/openai/openai-llm.provider';
import { FakeLlmServer, FakeRoute, startFakeLlmServer } from '../support/fake-llm-server';

const API_KEY = 'sk-llm-contract-0123456789';
let server: FakeLlmServer;
const breakers = new CircuitBreakerRegistry();

beforeAll(async () => {
  server = await startFakeLlmServer({ apiKey: API_KEY });
});
afterAll(async () => {
  breakers.shutdown();
  await server.close();
});

interface Target {
  name: string;
  provider: string;
  model: string;
  fakeRoute?: FakeRoute;
  make: (timeouts?: { timeoutMs: number; firstByteTimeoutMs: number }) => LlmProvider;
}

const env = process.env;
const targets: Target[] = [
  {
    name: 'openai adapter on the fake server',
    provider: 'openai',
    model: 'fake-chat',
    fakeRoute: '/v1/chat/completions',
    make: (t) => new OpenAiLlmProvider({ baseUrl: server.url, apiKey: API_KEY, breakers, ...t }),
  },
  {
    name: 'ollama adapter on the fake server',
    provider: 'ollama',
    model: 'fake-chat',
    fakeRoute: '/api/chat',
    make: (t) => new OllamaLlmProvider({ baseUrl: server.url, breakers, ...t }),
  },
];
if (env.OPENAI_BASE_URL && env.OPENAI_API_KEY) {
  targets.push({
    name: 'openai adapter on OPENAI_BASE_URL',
    provider: 'openai',
    model: env.OPENAI_CHAT_MODEL ?? 'gpt-4o-mini',
    make: (t) => new OpenAiLlmProvider({ baseUrl: env.OPENAI_BASE_URL!, apiKey: env.OPENAI_API_KEY, ...t }),
  });
}
if (env.OLLAMA_URL) {
  targets.push({
    name: 'ollama adapter on OLLAMA_URL',
    provider: 'ollama',
    model: env.OLLAMA_CHAT_MODEL ?? 'llama3.2',
    make: (t) => new OllamaLlmProvider({ baseUrl: env.OLLAMA_URL!, timeoutMs: 120_000, ...t }),
  });
}

const question = [
  { role: 'system' as const, content: 'Answer in one short sentence.' },
  { role: 'user' as const, content: 'What colour is a clear daytime sky? Reply with the colour.' },
];

describe.each(targets)('LlmProvider contract: $name', (target) => {
  it('names its provider', () => {
    expect(target.make().provider).toBe(target.provider);
  });

  it('completes a chat with text, the model and token usage', async () => {
    const result = await target.make().complete({ model: target.model, messages: question, temperature: 0, maxTokens: 40 });
    expect(result.text.trim().length).toBeGreaterThan(0);
    expect(result.model).toBeTruthy();
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    expect(result.finishReason).toBeTruthy();
  });

  it('answers a JSON object when asked for JSON', async () => {
    const messages = [
      { role: 'system' as const, content: 'Reply only with a JSON object {"relevant": true|false}.' },
      { role: 'user' as const, content: 'Is "the sky is blue" relevant to "sky colour"? Answer in JSON.' },
    ];
    const result = await target.make().complete({ model: target.model, messages, json: true, temperature: 0, maxTokens: 40 });
    expect(typeof JSON.parse(result.text)).toBe('object');
  });

  it('streams deltas that add up to the final text, then the usage', async () => {
    const stream = target.make().stream({ model: target.model, messages: question, temperature: 0, maxTokens: 40 });
    const deltas: string[] = [];
    for await (const delta of stream.deltas) deltas.push(delta);
    const result = await stream.result;
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.join('')).toBe(result.text);
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
  });

  it('gives the whole result to a caller that reads only `result`', async () => {
    const result = await target.make().stream({ model: target.model, messages: question, temperature: 0, maxTokens: 40 }).result;
    expect(result.text.trim().length).toBeGreaterThan(0);
  });

  it('stops a stream whose reader breaks off, rejecting the result as aborted', async () => {
    // the fake answers in microseconds: pace it so the reader breaks off before the end
    if (target.fakeRoute) server.fail(target.fakeRoute, { kind: 'slow-stream', chunkDelayMs: 50 });
    const stream = target
      .make()
      .stream({ model: target.model, messages: [{ role: 'user', content: 'Count from one to fifty in words.' }], maxTokens: 200 });
    for await (const _ of stream.deltas) break;
    await expect(stream.result).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe.each(targets.filter((t) => t.fakeRoute))('chat adapter on the wire: $name', (target) => {
  const route = target.fakeRoute!;

  it('sends model, messages, JSON mode, temperature and token limit in the protocol shape', async () => {
    server.reset();
    server.onChat((call) => (call.json ? JSON.stringify({ supported: call.lastUserMessage.includes('sky') }) : 'plain'));
    const result = await target.make().complete({ model: 'fake-chat', messages: question, json: true, temperature: 0.2, maxTokens: 7 });
    expect(JSON.parse(result.text)).toEqual({ supported: true });
    const [request] = server.requestsTo(route);
    expect(request.body).toMatchObject({ model: 'fake-chat', messages: question });
    if (target.provider === 'openai') {
      expect(request.body).toMatchObject({ response_format: { type: 'json_object' }, temperature: 0.2, max_tokens: 7 });
      expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
      expect(request.body.stream).toBeUndefined();
    } else {
      expect(request.body).toMatchObject({ format: 'json', options: { temperature: 0.2, num_predict: 7 }, stream: false });
    }
    expect(request.rawBody).not.toContain(API_KEY);
  });

  it('streams with the protocol switches (SSE with include_usage / NDJSON) and reports the usage the server counted', async () => {
    server.reset();
    server.onChat(() => 'one two three four');
    const stream = target.make().stream({ model: 'fake-chat', messages: [{ role: 'user', content: 'count to four please' }] });
    const deltas: string[] = [];
    for await (const delta of stream.deltas) deltas.push(delta);
    expect(deltas).toEqual(['one ', 'two ', 'three ', 'four']);
    await expect(stream.result).resolves.toEqual({
      text: 'one two three four',
      model: 'fake-chat',
      usage: { inputTokens: 4, outputTokens: 4 },
      finishReason: 'stop',
    });
    const [request] = server.requestsTo(route);
    if (target.provider === 'openai') expect(request.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    else expect(request.body.stream).toBe(true);
  });

  it('a stream cut off midway fails as unavailable and the deltas loop sees the error', async () => {
    server.reset();
    server.onChat(() => 'a b c d e f g h');
    server.fail(route, { kind: 'truncated-stream' });
    const stream = target.make().stream({ model: 'fake-chat', messages: question });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const delta of stream.deltas) seen.push(delta);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as DependencyError).failure).toBe('unavailable');
    await expect(stream.result).rejects.toBe(error);
    expect(seen.join('')).not.toBe('a b c d e f g h');
  });

  it('a stream slower than the total timeout fails as a timeout after the first deltas', async () => {
    server.reset();
    server.onChat(() => 'slow words keep coming one by one');
    server.fail(route, { kind: 'slow-stream', chunkDelayMs: 100 });
    const stream = target.make({ timeoutMs: 350, firstByteTimeoutMs: 200 }).stream({ model: 'fake-chat', messages: question });
    const error = await stream.result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as DependencyError).failure).toBe('timeout');
    expect((error as DependencyError).status).toBe(504);
    await expect.poll(() => server.requestsTo(route)[0]?.closedEarly).toBe(true);
  });

  it('a stream whose first byte is late fails on the first-byte timeout', async () => {
    server.reset();
    server.fail(route, { kind: 'delay', ms: 1_000 });
    const started = Date.now();
    const error = await target
      .make({ timeoutMs: 5_000, firstByteTimeoutMs: 150 })
      .stream({ model: 'fake-chat', messages: question })
      .result.catch((e: unknown) => e);
    expect((error as DependencyError).failure).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(900);
  });

  it("the caller's signal aborts a stream in flight", async () => {
    server.reset();
    server.fail(route, { kind: 'slow-stream', chunkDelayMs: 200 });
    const controller = new AbortController();
    const stream = target.make().stream({ model: 'fake-chat', messages: question, signal: controller.signal });
    const deltas: string[] = [];
    const error = await (async () => {
      for await (const delta of stream.deltas) {
        deltas.push(delta);
        controller.abort();
      }
    })().catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    expect(deltas).toHaveLength(1);
    await expect.poll(() => server.requestsTo(route)[0]?.closedEarly).toBe(true);
  });

  it('a malformed line in the stream is a bad_response', async () => {
    server.reset();
    server.fail(route, { kind: 'malformed-json' });
    const error = await target
      .make()
      .stream({ model: 'fake-chat', messages: question })
      .result.catch((e: unknown) => e);
    expect((error as DependencyError).failure).toBe('bad_response');
  });
});
