/**
 * The Reranker contract, run against the HTTP reranker through the protocol-level fake server
 * (Cohere/Jina-style `/rerank`) — and, when these are set, the same suite against a real one:
 *   RERANK_BASE_URL + RERANK_MODEL (+ RERANK_API_KEY, RERANK_PROVIDER default cohere)
 * Dependency faults (timeouts, 429, 500, circuit breaker…) are in test/unit/http/provider-faults.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitBreakerRegistry } from '../../src/common/http';
import { DependencyError } from '../../src/common/errors';
import { HttpReranker } from '../../src/retrieval/rerank/http-reranker';
import { Reranker } from '../../src/retrieval/reranker.port';
import { FakeLlmServer, startFakeLlmServer } from '../support/fake-llm-server';

const API_KEY = 'jina-rerank-contract-0123456789';
let server: FakeLlmServer;
const breakers = new CircuitBreakerRegistry();

beforeAll(async () => {
  server = await startFakeLlmServer({ apiKey: API_KEY });
});
afterAll(async () => {
  breakers.shutdown();
  await server.close();
});

const env = process.env;
const targets: Array<{ name: string; provider: string; fake: boolean; make: () => Reranker }> = [
  {
    name: 'jina-named reranker on the fake server',
    provider: 'jina',
    fake: true,
    make: () => new HttpReranker({ provider: 'jina', baseUrl: server.url, apiKey: API_KEY, model: 'fake-rerank', breakers }),
  },
];
if (env.RERANK_BASE_URL && env.RERANK_MODEL) {
  const provider = env.RERANK_PROVIDER ?? 'cohere';
  targets.push({
    name: `${provider} reranker on RERANK_BASE_URL`,
    provider,
    fake: false,
    make: () => new HttpReranker({ provider, baseUrl: env.RERANK_BASE_URL!, apiKey: env.RERANK_API_KEY, model: env.RERANK_MODEL! }),
  });
}

const documents = [
  'Bananas are a good source of potassium.',
  'The Eiffel Tower is in Paris, the capital of France.',
  'Paris is the capital and largest city of France.',
  'Photosynthesis turns light into chemical energy.',
];

describe.each(targets)('Reranker contract: $name', (target) => {
  it('names its provider', () => {
    expect(target.make().provider).toBe(target.provider);
  });

  it('returns the top N documents by index, best first, with scores', async () => {
    const results = await target.make().rerank('What is the capital of France?', documents, 2);
    expect(results).toHaveLength(2);
    expect(new Set(results.map((r) => r.index))).toEqual(new Set([1, 2]));
    expect(results[0].score).toBeGreaterThanOrEqual(results[1].score);
  });

  it('never returns more results than documents', async () => {
    const results = await target.make().rerank('potassium', documents.slice(0, 2), 10);
    expect(results).toHaveLength(2);
    expect(results[0].index).toBe(0);
  });

  it('reranks nothing without documents, without a call', async () => {
    const before = server.requests.length;
    await expect(target.make().rerank('anything', [], 5)).resolves.toEqual([]);
    expect(server.requests.length).toBe(before);
  });
});

describe('reranker on the wire', () => {
  it('posts {model, query, documents, top_n} to {baseUrl}/rerank with the key in the Authorization header', async () => {
    server.reset();
    await targets[0].make().rerank('capital of France', documents, 3);
    const [request] = server.requestsTo('/rerank');
    expect(request.path).toBe('/rerank');
    expect(request.body).toEqual({ model: 'fake-rerank', query: 'capital of France', documents, top_n: 3 });
    expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('keeps the version prefix of the base URL (Cohere /v2, Jina /v1)', async () => {
    server.reset();
    await new HttpReranker({ provider: 'cohere', baseUrl: `${server.url}/v2`, apiKey: API_KEY, model: 'fake-rerank', breakers }).rerank(
      'q',
      ['d'],
      1,
    );
    expect(server.requests.map((r) => r.path)).toEqual(['/v2/rerank']);
  });

  it('sorts results best first even when the server does not', async () => {
    server.reset();
    server.fail('/rerank', {
      kind: 'status',
      status: 200,
      body: {
        results: [
          { index: 0, relevance_score: 0.1 },
          { index: 1, relevance_score: 0.9 },
        ],
      },
    });
    await expect(targets[0].make().rerank('q', ['a', 'b'], 2)).resolves.toEqual([
      { index: 1, score: 0.9 },
      { index: 0, score: 0.1 },
    ]);
  });

  it.each([
    ['an index out of range', { results: [{ index: 7, relevance_score: 0.5 }] }],
    [
      'a repeated index',
      {
        results: [
          { index: 0, relevance_score: 0.5 },
          { index: 0, relevance_score: 0.4 },
        ],
      },
    ],
    ['a score that is not a number', { results: [{ index: 0, relevance_score: 'high' }] }],
  ])('an answer with %s is a bad_response', async (_, body) => {
    server.reset();
    server.fail('/rerank', { kind: 'status', status: 200, body });
    const error = await targets[0]
      .make()
      .rerank('q', ['a', 'b'], 2)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as DependencyError).failure).toBe('bad_response');
    expect((error as DependencyError).dependency).toBe('jina');
  });
});
