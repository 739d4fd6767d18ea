/**
 * The EmbeddingProvider contract, run against every HTTP adapter through the protocol-level
 * fake server — and, when these are set, the same suite against real servers:
 *   OPENAI_BASE_URL + OPENAI_API_KEY   (model: OPENAI_EMBEDDING_MODEL, default text-embedding-3-small)
 *   OLLAMA_URL                          (model: OLLAMA_EMBEDDING_MODEL, default nomic-embed-text)
 * Dependency faults (timeouts, 429, 500, circuit breaker…) are in test/unit/http/provider-faults.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitBreakerRegistry } from '../../src/common/http';
import { DependencyError } from '../../src/common/errors';
import { EmbeddingProvider } from '../../src/embeddings/embedding-provider.port';
import { OllamaEmbeddingProvider } from '../../src/embeddings/ollama/ollama-embedding.provider';
import { OpenAiEmbeddingProvider } from '../../src/embeddings/openai/openai-embedding.provider';
import { fakeEmbedding, FakeLlmServer, FakeRoute, startFakeLlmServer } from '../support/fake-llm-server';

const API_KEY = 'sk-embed-contract-0123456789';
let server: FakeLlmServer;
let fakeDimension = 48;
const breakers = new CircuitBreakerRegistry();

beforeAll(async () => {
  server = await startFakeLlmServer({ apiKey: API_KEY, embeddingDimension: () => fakeDimension });
});
afterAll(async () => {
  breakers.shutdown();
  await server.close();
});

interface Target {
  name: string;
  provider: string;
  model: string;
  /** the fake server's route when the target is the fake, for request assertions */
  fakeRoute?: FakeRoute;
  make: (batchSize?: number) => EmbeddingProvider;
}

const env = process.env;
const targets: Target[] = [
  {
    name: 'openai adapter on the fake server',
    provider: 'openai',
    model: 'fake-embed',
    fakeRoute: '/v1/embeddings',
    make: (batchSize) => new OpenAiEmbeddingProvider({ baseUrl: server.url, apiKey: API_KEY, batchSize, breakers }),
  },
  {
    name: 'ollama adapter on the fake server',
    provider: 'ollama',
    model: 'fake-embed',
    fakeRoute: '/api/embed',
    make: (batchSize) => new OllamaEmbeddingProvider({ baseUrl: server.url, batchSize, breakers }),
  },
];
if (env.OPENAI_BASE_URL && env.OPENAI_API_KEY) {
  targets.push({
    name: 'openai adapter on OPENAI_BASE_URL',
    provider: 'openai',
    model: env.OPENAI_EMBEDDING_MODEL ?? 'text-embedding-3-small',
    make: (batchSize) => new OpenAiEmbeddingProvider({ baseUrl: env.OPENAI_BASE_URL!, apiKey: env.OPENAI_API_KEY, batchSize }),
  });
}
if (env.OLLAMA_URL) {
  targets.push({
    name: 'ollama adapter on OLLAMA_URL',
    provider: 'ollama',
    model: env.OLLAMA_EMBEDDING_MODEL ?? 'nomic-embed-text',
    make: (batchSize) => new OllamaEmbeddingProvider({ baseUrl: env.OLLAMA_URL!, batchSize, timeoutMs: 120_000 }),
  });
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

const texts = ['The cat sat on the mat.', 'A cat was sitting on a mat.', 'Quarterly tax revenue rose by four percent.', '猫坐在垫子上。'];

describe.each(targets)('EmbeddingProvider contract: $name', (target) => {
  it('names its provider', () => {
    expect(target.make().provider).toBe(target.provider);
  });

  it('returns one vector per text, of the model dimension, in input order', async () => {
    const provider = target.make();
    const forward = await provider.embed(target.model, texts);
    const backward = await provider.embed(target.model, [...texts].reverse());
    const dimension = await provider.dimension(target.model);
    expect(forward.vectors).toHaveLength(texts.length);
    for (const vector of forward.vectors) {
      expect(vector).toBeInstanceOf(Float32Array);
      expect(vector.length).toBe(dimension);
    }
    texts.forEach((_, i) => expect(cosine(forward.vectors[i], backward.vectors[texts.length - 1 - i])).toBeGreaterThan(0.999));
    expect(forward.inputTokens).toBeGreaterThan(0);
  });

  it('places texts that say the same thing closer than unrelated ones', async () => {
    const { vectors } = await target.make().embed(target.model, texts.slice(0, 3));
    expect(cosine(vectors[0], vectors[1])).toBeGreaterThan(cosine(vectors[0], vectors[2]));
  });

  it('sends large inputs in batches and keeps the order across them', async () => {
    const many = Array.from({ length: 10 }, (_, i) => `document number ${i} about topic ${i % 3}`);
    const whole = await target.make(64).embed(target.model, many);
    const before = target.fakeRoute ? server.requestsTo(target.fakeRoute).length : 0;
    const batched = await target.make(4).embed(target.model, many);
    expect(batched.vectors).toHaveLength(many.length);
    many.forEach((_, i) => expect(cosine(batched.vectors[i], whole.vectors[i])).toBeGreaterThan(0.999));
    if (target.fakeRoute) expect(server.requestsTo(target.fakeRoute).length - before).toBe(3);
  });

  it('embeds nothing for no texts, without a call', async () => {
    const before = server.requests.length;
    await expect(target.make().embed(target.model, [])).resolves.toEqual({ vectors: [], inputTokens: 0 });
    expect(server.requests.length).toBe(before);
  });

  it('learns the dimension once and remembers it', async () => {
    const provider = target.make();
    const [a, b] = await Promise.all([provider.dimension(target.model), provider.dimension(target.model)]);
    expect(a).toBeGreaterThan(0);
    expect(b).toBe(a);
    const before = server.requests.length;
    await expect(provider.dimension(target.model)).resolves.toBe(a);
    expect(server.requests.length).toBe(before);
  });
});

describe.each(targets.filter((t) => t.fakeRoute))('embedding adapter on the wire: $name', (target) => {
  const route = target.fakeRoute!;

  it('sends the texts in the protocol shape, with the key only in the Authorization header', async () => {
    server.reset();
    const { vectors } = await target.make().embed(target.model, ['hello world']);
    expect(Array.from(vectors[0])).toEqual(fakeEmbedding('hello world', fakeDimension).map(Math.fround));
    const [request] = server.requestsTo(route);
    expect(request.body).toMatchObject({ model: target.model, input: ['hello world'] });
    if (target.provider === 'openai') {
      expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
      expect(request.body.encoding_format).toBe('float');
    } else {
      expect(request.headers.authorization).toBeUndefined();
    }
    expect(request.rawBody).not.toContain(API_KEY);
  });

  it('refuses a model whose vectors change length (the index would be corrupted)', async () => {
    const provider = target.make();
    await provider.embed(target.model, ['first']);
    fakeDimension = 24;
    try {
      const error = await provider.embed(target.model, ['second']).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DependencyError);
      expect((error as DependencyError).failure).toBe('bad_response');
      expect((error as DependencyError).message).toContain('24-dimensional');
    } finally {
      fakeDimension = 48;
    }
  });
});

describe('OpenAI-compatible base URL rule', () => {
  it.each([
    ['', '/v1/embeddings'],
    ['/v1', '/v1/embeddings'],
  ])('base URL with path %j posts to %s', async (suffix, path) => {
    server.reset();
    await new OpenAiEmbeddingProvider({ baseUrl: `${server.url}${suffix}`, apiKey: API_KEY, breakers }).embed('fake-embed', ['x']);
    expect(server.requests.map((r) => r.path)).toEqual([path]);
  });

  it('answers out of index order are put back in input order', async () => {
    // the fake answers in order; an answer whose indexes are permuted must still map correctly
    server.reset();
    server.fail('/v1/embeddings', {
      kind: 'status',
      status: 200,
      body: {
        object: 'list',
        data: [
          { index: 1, embedding: [0, 1] },
          { index: 0, embedding: [1, 0] },
        ],
        usage: { prompt_tokens: 2 },
      },
    });
    const { vectors, inputTokens } = await new OpenAiEmbeddingProvider({ baseUrl: server.url, apiKey: API_KEY, breakers }).embed(
      'fake-embed',
      ['a', 'b'],
    );
    expect(vectors.map((v) => Array.from(v))).toEqual([
      [1, 0],
      [0, 1],
    ]);
    expect(inputTokens).toBe(2);
  });
});
