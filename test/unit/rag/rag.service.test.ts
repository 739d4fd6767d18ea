import { Test } from '@nestjs/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../../src/common/errors';
import { loadConfig } from '../../../src/config/app-config';
import type { KnowledgeBaseEntity } from '../../../src/database/entities';
import { KnowledgeBasesRepository } from '../../../src/knowledge-bases/knowledge-bases.repository';
import { LlmProvider, type CompletionRequest, type CompletionResult, type CompletionStream } from '../../../src/llm/llm-provider.port';
import { LlmService } from '../../../src/llm/llm.service';
import { appMetrics } from '../../../src/telemetry/app-metrics';
import { noAnswerMessage } from '../../../src/rag/messages';
import type { RagMode } from '../../../src/rag/rag.dto';
import { RagService, type RagEvent } from '../../../src/rag/rag.service';
import { ChunkLookupRepository } from '../../../src/retrieval/chunk-lookup.repository';
import { Reranker } from '../../../src/retrieval/reranker.port';
import { RetrievalService } from '../../../src/retrieval/retrieval.service';
import { DenseRetriever, SparseRetriever } from '../../../src/retrieval/retrievers';
import { TenantContext } from '../../../src/tenants/principal';
import {
  InMemoryChunkLookupRepository,
  InMemoryDatabase,
  InMemoryKnowledgeBasesRepository,
} from '../../support/fakes/in-memory-repositories';
import { SearchStack } from '../../support/fakes/search-stack';

const A = new TenantContext('tenant-a');
const B = new TenantContext('tenant-b');

/**
 * A chat model that behaves, by word overlap: a passage is relevant when it shares two or more
 * longer words with the question; the answer is the best passage's text with its [n]; an answer
 * is supported when it is a passage's text. `garbage` answers every grader with non-JSON.
 */
class WordOverlapLlm extends LlmProvider {
  readonly provider = 'word-overlap';
  readonly usage = { inputTokens: 0, outputTokens: 0 };

  constructor(private readonly garbage = false) {
    super();
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const task = /^Task: ([\w-]+)/.exec(request.messages[0].content)?.[1];
    const user = request.messages[1].content;
    const question = /Question: (.*)/.exec(user)?.[1] ?? user;
    const passages = [...user.matchAll(/^\[(\d+)\] [^\n]*\n(.*)$/gm)].map((m) => ({ n: Number(m[1]), text: m[2] }));
    let text: string;
    if (this.garbage && task !== 'answer') text = 'I think so, probably.';
    else if (task === 'retrieve-decision') text = '{"retrieve": true}';
    else if (task === 'relevance-grade') text = JSON.stringify({ relevant: overlap(question, passages[0].text) >= 2, score: 0.9 });
    else if (task === 'answer') {
      const best = [...passages].sort((a, b) => overlap(question, b.text) - overlap(question, a.text))[0];
      text = best && overlap(question, best.text) >= 2 ? `${best.text} [${best.n}]` : 'The documents do not answer this.';
    } else if (task === 'support-grade')
      text = JSON.stringify({ supported: passages.some((p) => user.includes(`Answer: ${p.text}`)), score: 1 });
    else if (task === 'usefulness-grade') text = '{"useful": true, "score": 4}';
    else text = JSON.stringify({ query: `${question} policy` });
    const usage = { inputTokens: Math.ceil(JSON.stringify(request.messages).length / 4), outputTokens: Math.ceil(text.length / 4) };
    this.usage.inputTokens += usage.inputTokens;
    this.usage.outputTokens += usage.outputTokens;
    return { text, model: request.model, usage, finishReason: 'stop' };
  }

  stream(request: CompletionRequest): CompletionStream {
    const result = this.complete(request);
    return {
      result,
      deltas: (async function* () {
        yield (await result).text;
      })(),
    };
  }
}

function overlap(question: string, text: string): number {
  const words = (s: string) => new Set(s.toLowerCase().match(/\p{L}{4,}/gu) ?? []);
  const asked = words(question);
  return [...words(text)].filter((w) => asked.has(w)).length;
}

async function build(env: Record<string, string> = {}, provider?: LlmProvider) {
  const config = loadConfig(env);
  const db = new InMemoryDatabase();
  const stack = new SearchStack(config, db);
  await stack.init();
  const moduleRef = await Test.createTestingModule({
    providers: [
      ...stack.providers(),
      RagService,
      RetrievalService,
      DenseRetriever,
      SparseRetriever,
      // without a provider (the offline default) the extractive answerer and lexical graders run
      { provide: LlmService, useValue: new LlmService(provider, config.llm.model, appMetrics()) },
      { provide: KnowledgeBasesRepository, useValue: new InMemoryKnowledgeBasesRepository(db) },
      { provide: ChunkLookupRepository, useValue: new InMemoryChunkLookupRepository(db) },
      { provide: Reranker, useValue: null },
    ],
  }).compile();
  const kb = stack.knowledgeBase(A.tenantId, 'handbook');
  await stack.index({
    tenantId: A.tenantId,
    kb,
    title: 'leave policy',
    chunks: [
      'Employees receive 25 days of paid annual leave per calendar year.',
      'Unused annual leave may be carried over until the end of March of the following year.',
    ],
  });
  await stack.index({
    tenantId: A.tenantId,
    kb,
    title: 'expenses',
    chunks: ['Travel expenses are reimbursed within 30 days when receipts are submitted.'],
  });
  return { db, stack, kb, rag: moduleRef.get(RagService) };
}

describe('RagService (offline answerer)', () => {
  let setup: Awaited<ReturnType<typeof build>>;

  const ask = (query: string, mode: RagMode, options: { kbs?: KnowledgeBaseEntity[]; signal?: AbortSignal; events?: RagEvent[] } = {}) => {
    const kbs = options.kbs ?? [setup.kb];
    return setup.rag.answer(A, { query, kbIds: kbs.map((kb) => kb.id), mode, topK: 3 }, kbs, {
      signal: options.signal ?? new AbortController().signal,
      onEvent: (event) => options.events?.push(event),
    });
  };

  beforeEach(async () => {
    setup = await build();
  });

  afterEach(async () => {
    await setup.stack.close();
  });

  it.each(['standard', 'self-rag'] as const)('answers from the passage that holds the answer and cites it (%s)', async (mode) => {
    const response = await ask('How many days of paid annual leave do employees receive?', mode);
    expect(response.mode).toBe(mode);
    expect(response.answerer).toBe('offline');
    expect(response.answer).toMatch(/25 days/);
    expect(response.citations.length).toBeGreaterThan(0);
    expect(response.citations[0]).toMatchObject({ kb_id: setup.kb.id, document_title: 'leave policy' });
    expect(response.citations.some((c) => c.text.includes('25 days'))).toBe(true);
  });

  it('abstains with the no-answer message, citing nothing, when the KB has nothing to go on (standard)', async () => {
    const empty = setup.stack.knowledgeBase(A.tenantId, 'empty');
    const response = await ask('How many days of paid annual leave do employees receive?', 'standard', { kbs: [empty] });
    expect(response.citations).toEqual([]);
    expect(response.answer).toBe(noAnswerMessage('How many days of paid annual leave do employees receive?'));
  });

  it("abstains in self-rag when no passage is relevant, in the question's language", async () => {
    const english = await ask('What is the boiling point of liquid nitrogen on Jupiter?', 'self-rag');
    expect(english.citations).toEqual([]);
    expect(english.answer).toBe(noAnswerMessage('What is the boiling point of liquid nitrogen on Jupiter?'));
    const chinese = await ask('木星上液氮的沸点是多少？', 'self-rag');
    expect(chinese.citations).toEqual([]);
    expect(chinese.answer).toBe('检索到的文档中没有能回答这个问题的内容。');
  });

  it('reports the self-rag steps as events and grades every passage it retrieved', async () => {
    const events: RagEvent[] = [];
    const response = await ask('How many days of paid annual leave do employees receive?', 'self-rag', { events });
    const steps = events.filter((e) => e.type === 'step').map((e) => (e as { step: string }).step);
    expect(steps.slice(0, 3)).toEqual(['retrieve_decision', 'retrieve', 'grade_relevance']);
    expect(steps).toContain('grade_support');
    expect(response.reflection.retrieve).toBe(true);
    const retrieved = events.find((e) => e.type === 'step' && e.step === 'retrieve') as unknown as { detail: { chunk_ids: string[] } };
    expect(response.reflection.relevance.map((g) => g.chunk_id)).toEqual(retrieved.detail.chunk_ids);
    expect(
      events
        .filter((e) => e.type === 'delta')
        .map((e) => (e as { text: string }).text)
        .join(''),
    ).toContain('25 days');
  });

  it('never runs more rounds than SELF_RAG_MAX_ROUNDS', async () => {
    await setup.stack.close();
    setup = await build({ SELF_RAG_MAX_ROUNDS: '1' });
    const events: RagEvent[] = [];
    const response = await ask('What is the boiling point of liquid nitrogen on Jupiter?', 'self-rag', { events });
    expect(response.reflection.rounds).toBeLessThanOrEqual(1);
    expect(events.filter((e) => e.type === 'step' && e.step === 'retrieve')).toHaveLength(1);
    expect(events.some((e) => e.type === 'step' && e.step === 'rewrite_query')).toBe(false);
  });

  it('stops at once when the request is aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('client went away'));
    await expect(ask('How many days of paid annual leave?', 'self-rag', { signal: controller.signal })).rejects.toThrow('client went away');
    await expect(ask('How many days of paid annual leave?', 'standard', { signal: controller.signal })).rejects.toThrow('client went away');
  });

  it("cites only the caller's KBs and refuses another tenant's KB with a 404", async () => {
    const foreign = setup.stack.knowledgeBase(B.tenantId, 'theirs');
    await setup.stack.index({
      tenantId: B.tenantId,
      kb: foreign,
      title: 'their leave',
      chunks: ['Employees of tenant B receive 40 days of paid annual leave per year.'],
    });
    const response = await ask('How many days of paid annual leave do employees receive?', 'standard');
    expect(response.citations.every((c) => c.kb_id === setup.kb.id)).toBe(true);
    expect(response.answer).not.toMatch(/40 days/);
    await expect(setup.rag.requireKnowledgeBases(A, [foreign.id])).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('RagService (LLM answerer)', () => {
  const question = 'How many days of paid annual leave do employees receive?';
  const answer = async (llm: WordOverlapLlm, mode: RagMode) => {
    const setup = await build({}, llm);
    try {
      return await setup.rag.answer(A, { query: question, kbIds: [setup.kb.id], mode, topK: 3 }, [setup.kb], {
        signal: new AbortController().signal,
      });
    } finally {
      await setup.stack.close();
    }
  };

  it.each(['standard', 'self-rag'] as const)(
    'answers through the LLM, cites the passage it marked and adds up the token usage (%s)',
    async (mode) => {
      const llm = new WordOverlapLlm();
      const response = await answer(llm, mode);
      expect(response.answerer).toBe('word-overlap');
      expect(response.answer).toMatch(/25 days of paid annual leave.* \[\d\]$/);
      expect(response.citations).toHaveLength(1);
      expect(response.citations[0].text).toContain('25 days');
      expect(response.usage).toEqual({ input_tokens: llm.usage.inputTokens, output_tokens: llm.usage.outputTokens });
      if (mode === 'self-rag') {
        expect(response.reflection).toMatchObject({ retrieve: true, supported: true, useful: true, rounds: 1 });
        expect(response.reflection.relevance.filter((g) => g.relevant).length).toBeGreaterThan(0);
      }
    },
  );

  it('retrieves when the retrieve decision cannot be read, counts unreadable relevance grades as failed, and then abstains', async () => {
    const response = await answer(new WordOverlapLlm(true), 'self-rag');
    expect(response.reflection.retrieve).toBe(true);
    expect(response.reflection.relevance.length).toBeGreaterThan(0);
    expect(response.reflection.relevance.every((g) => !g.relevant && g.malformed)).toBe(true);
    expect(response.citations).toEqual([]);
    expect(response.answer).toBe(noAnswerMessage(question));
  });
});
