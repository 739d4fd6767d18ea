import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASES, startDatabase, type DatabaseHandle } from '../support/databases';
import { startFakeLlmServer, type ChatCall, type FakeLlmServer } from '../support/fake-llm-server';
import { api, createTenantWithKeys, startTestApp, type TestApp } from '../support/test-app';
import { createIndexedKnowledgeBase, HANDBOOK } from './retrieval-fixtures';

interface SseEvent {
  event: string;
  data: any;
}

function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? '';
      return { event, data: JSON.parse(data) };
    });
}

async function ragStream(
  baseUrl: string,
  key: string,
  body: Record<string, unknown>,
): Promise<{ status: number; contentType: string | null; events: SseEvent[] }> {
  const response = await fetch(`${baseUrl}/v1/rag`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  return { status: response.status, contentType: response.headers.get('content-type'), events: parseSse(await response.text()) };
}

describe.each(DATABASES)('POST /v1/rag on %s', (database) => {
  let db: DatabaseHandle;

  beforeAll(async () => {
    db = await startDatabase(database);
  });

  afterAll(async () => {
    await db?.stop();
  });

  describe('offline extractive answerer', () => {
    let app: TestApp;
    let tenant: Awaited<ReturnType<typeof createTenantWithKeys>>;
    let other: Awaited<ReturnType<typeof createTenantWithKeys>>;
    let kbId: string;

    beforeAll(async () => {
      app = await startTestApp({ ...db.env, RATE_LIMIT_RPS: '100000', SELF_RAG_MAX_ROUNDS: '3' });
      tenant = await createTenantWithKeys(app.baseUrl, 'rag-offline');
      other = await createTenantWithKeys(app.baseUrl, 'rag-other');
      kbId = (await createIndexedKnowledgeBase(app.baseUrl, tenant.keys, 'handbook', HANDBOOK)).kbId;
    });

    afterAll(async () => {
      await app?.close();
    });

    const rag = (body: Record<string, unknown>, key = tenant.keys.read) => api(app.baseUrl, key).post('/v1/rag', body);

    it('standard: retrieves, answers from the best sentences and cites only the passage used', async () => {
      const res = await rag({ query: 'How are API keys stored?', kb_ids: [kbId], mode: 'standard' });
      expect(res.status).toBe(200);
      expect(res.body.answer).toContain('API keys are stored hashed with SHA-256');
      expect(res.body.answer).toMatch(/\[\d+\]/);
      expect(res.body.citations).toHaveLength(1);
      expect(res.body.citations[0]).toMatchObject({ kb_id: kbId, document_title: 'API keys' });
      expect(res.body.citations[0].text).toContain('stored hashed');
      expect(res.body.answer).toContain(`[${res.body.citations[0].ref}]`);
      expect(res.body.reflection).toMatchObject({ retrieve: true, relevance: [], supported: null, useful: null, rounds: 1 });
      expect(res.body.usage.input_tokens).toBeGreaterThan(0);
      expect(res.body.usage.output_tokens).toBeGreaterThan(0);
      expect(res.body.mode).toBe('standard');
      expect(res.body.answerer).toBe('offline');
    });

    it('self-rag (default): grades every passage, answers from relevant ones only, and reports the verdicts', async () => {
      const res = await rag({ query: 'How long are database backups kept?', kb_ids: [kbId], top_k: 4 });
      expect(res.status).toBe(200);
      expect(res.body.mode).toBe('self-rag');
      expect(res.body.answer).toContain('thirty days');
      const { reflection } = res.body;
      expect(reflection).toMatchObject({ retrieve: true, supported: true, useful: true, rounds: 1 });
      expect(reflection.relevance.length).toBeGreaterThan(1);
      for (const grade of reflection.relevance) {
        expect(grade).toEqual({ chunk_id: expect.any(String), relevant: expect.any(Boolean), score: expect.any(Number) });
      }
      const relevant = new Set(
        reflection.relevance.filter((g: { relevant: boolean }) => g.relevant).map((g: { chunk_id: string }) => g.chunk_id),
      );
      expect(relevant.size).toBeGreaterThan(0);
      expect(relevant.size).toBeLessThan(reflection.relevance.length);
      expect(res.body.citations.length).toBeGreaterThan(0);
      for (const citation of res.body.citations) expect(relevant.has(citation.chunk_id)).toBe(true);
      expect(res.body.citations.map((c: { document_title: string }) => c.document_title)).toEqual(['Backups']);
    });

    it('self-rag: says plainly that the documents do not answer, after a rewrite that finds nothing new', async () => {
      const res = await rag({ query: 'What is the capital city of Peru?', kb_ids: [kbId] });
      expect(res.status).toBe(200);
      expect(res.body.answer).toBe('The documents searched do not contain an answer to this question.');
      expect(res.body.citations).toEqual([]);
      // the rewrite ran but found no relevant passage: it is not kept, and the loop ends
      expect(res.body.reflection).toMatchObject({ retrieve: true, supported: false, useful: false, rounds: 1 });
      expect(res.body.reflection.queries).toEqual(['What is the capital city of Peru?']);
    });

    it('answers Chinese questions from Chinese documents, and says so in Chinese when it cannot', async () => {
      const res = await rag({ query: '错误率超过多少会触发告警？', kb_ids: [kbId] });
      expect(res.status).toBe(200);
      expect(res.body.answer).toContain('当错误率超过百分之五时，会触发严重告警。');
      expect(res.body.citations.map((c: { document_title: string }) => c.document_title)).toEqual(['监控告警']);
      expect(res.body.reflection).toMatchObject({ supported: true, useful: true });
      const logs = await rag({ query: '日志保留多少天？', kb_ids: [kbId], mode: 'standard' });
      expect(logs.body.answer).toContain('日志保留十四天。');
      const none = await rag({ query: '公司的年假有几天？', kb_ids: [kbId] });
      expect(none.body.answer).toBe('检索到的文档中没有能回答这个问题的内容。');
      expect(none.body.citations).toEqual([]);
    });

    it('streams server-sent events: steps and deltas as they come, then one answer event with the whole object', async () => {
      const { status, contentType, events } = await ragStream(app.baseUrl, tenant.keys.read, {
        query: 'How are API keys stored?',
        kb_ids: [kbId],
      });
      expect(status).toBe(200);
      expect(contentType).toContain('text/event-stream');
      const names = events.map((e) => e.event);
      expect(names).toContain('step');
      expect(names).toContain('delta');
      expect(names.filter((n) => n === 'answer')).toHaveLength(1);
      expect(names.at(-1)).toBe('answer');
      const steps = events.filter((e) => e.event === 'step').map((e) => e.data.step);
      expect(steps).toEqual(
        expect.arrayContaining(['retrieve_decision', 'retrieve', 'grade_relevance', 'grade_support', 'grade_usefulness']),
      );
      const final = events.at(-1)!.data;
      expect(final).toMatchObject({
        answer: expect.stringContaining('stored hashed'),
        reflection: { supported: true, rounds: 1 },
        usage: { input_tokens: expect.any(Number) },
      });
      const lastRound = final.reflection.rounds;
      const deltas = events
        .filter((e) => e.event === 'delta' && e.data.round === lastRound)
        .map((e) => e.data.text)
        .join('');
      expect(deltas).toBe(final.answer);
    });

    it("answers 404 for another tenant's knowledge base, before any stream starts", async () => {
      expect((await rag({ query: 'How are API keys stored?', kb_ids: [kbId] }, other.keys.read)).status).toBe(404);
      const streamed = await fetch(`${app.baseUrl}/v1/rag`, {
        method: 'POST',
        headers: { authorization: `Bearer ${other.keys.read}`, 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'API keys', kb_ids: [kbId], stream: true }),
      });
      expect(streamed.status).toBe(404);
      expect(streamed.headers.get('content-type')).toContain('application/problem+json');
    });

    it.each([
      ['an empty query', { query: '' }, 'query'],
      ['a 100 kB query', { query: 'x'.repeat(100_000) }, 'query'],
      ['an unknown mode', { mode: 'creative' }, 'mode'],
      ['top_k 0', { top_k: 0 }, 'top_k'],
      ['top_k 10,000', { top_k: 10_000 }, 'top_k'],
      ['a non-boolean stream', { stream: 'yes' }, 'stream'],
      ['a filter of the wrong shape', { filters: { year: { between: [1, 2] } } }, 'filters'],
    ])('refuses %s with a 422 naming the field', async (_what, change, field) => {
      const res = await rag({ query: 'API keys', kb_ids: [kbId], ...change });
      expect(res.status).toBe(422);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });
  });

  describe('OpenAI-compatible LLM (protocol-level fake server)', () => {
    let app: TestApp;
    let llm: FakeLlmServer;
    let tenant: Awaited<ReturnType<typeof createTenantWithKeys>>;
    let kbId: string;

    /** a well-behaved model: grades by keyword, answers citing the passage that holds the fact */
    const goodModel = (call: ChatCall): string => {
      const system = call.messages[0]?.content ?? '';
      const user = call.lastUserMessage;
      if (system.startsWith('Task: retrieve-decision')) return '{"retrieve": true}';
      if (system.startsWith('Task: relevance-grade'))
        return JSON.stringify({ relevant: /SHA-256/.test(user), score: /SHA-256/.test(user) ? 0.9 : 0.1 });
      if (system.startsWith('Task: answer')) {
        const n = /\[(\d+)\][^[]*SHA-256/.exec(user)?.[1] ?? '1';
        return `API keys are stored as SHA-256 hashes [${n}].`;
      }
      if (system.startsWith('Task: support-grade')) return '{"supported": true, "score": 1}';
      if (system.startsWith('Task: usefulness-grade')) return '{"useful": true, "score": 5}';
      if (system.startsWith('Task: query-rewrite')) return '{"query": "API key storage hashing"}';
      return 'unexpected';
    };

    beforeAll(async () => {
      llm = await startFakeLlmServer({ apiKey: 'sk-fake-llm-key-123456' });
      app = await startTestApp({
        ...db.env,
        RATE_LIMIT_RPS: '100000',
        LLM_PROVIDER: 'openai',
        LLM_BASE_URL: `${llm.url}/v1`,
        LLM_API_KEY: 'sk-fake-llm-key-123456',
        LLM_MODEL: 'fake-chat-1',
        LLM_TIMEOUT_MS: '800',
        SELF_RAG_MAX_ROUNDS: '2',
      });
      tenant = await createTenantWithKeys(app.baseUrl, 'rag-llm');
      kbId = (await createIndexedKnowledgeBase(app.baseUrl, tenant.keys, 'handbook', HANDBOOK)).kbId;
    });

    afterAll(async () => {
      await app?.close();
      await llm?.close();
    });

    const rag = (body: Record<string, unknown>) => api(app.baseUrl, tenant.keys.read).post('/v1/rag', body);

    it('self-rag: every step is a chat call, graders in JSON mode, the answer streamed, usage summed', async () => {
      llm.reset();
      llm.onChat(goodModel);
      const res = await rag({ query: 'How are API keys stored?', kb_ids: [kbId], top_k: 3 });
      expect(res.status).toBe(200);
      expect(res.body.answerer).toBe('openai');
      expect(res.body.answer).toMatch(/^API keys are stored as SHA-256 hashes \[\d\]\.$/);
      expect(res.body.citations).toHaveLength(1);
      expect(res.body.citations[0].text).toContain('SHA-256');
      expect(res.body.reflection).toMatchObject({ retrieve: true, supported: true, useful: true, usefulness_score: 5, rounds: 1 });
      expect(res.body.reflection.relevance.filter((g: { relevant: boolean }) => g.relevant)).toHaveLength(1);
      const calls = llm.requestsTo('/v1/chat/completions');
      const tasks = calls.map((c) => /^Task: ([a-z-]+)/.exec(c.body.messages[0].content)?.[1]);
      expect(tasks.filter((t) => t === 'relevance-grade')).toHaveLength(res.body.reflection.relevance.length);
      expect(tasks).toEqual(expect.arrayContaining(['retrieve-decision', 'answer', 'support-grade', 'usefulness-grade']));
      for (const call of calls) {
        expect(call.body.model).toBe('fake-chat-1');
        expect(call.headers.authorization).toBe('Bearer sk-fake-llm-key-123456');
        const isAnswer = call.body.messages[0].content.startsWith('Task: answer');
        expect(call.body.stream === true).toBe(isAnswer);
        expect(call.body.response_format?.type === 'json_object').toBe(!isAnswer);
      }
      expect(res.body.usage.input_tokens).toBeGreaterThan(0);
      expect(res.body.usage.output_tokens).toBeGreaterThan(0);
    });

    it('standard: one streamed generation, SSE deltas carry its tokens', async () => {
      llm.reset();
      llm.onChat(goodModel);
      const { events } = await ragStream(app.baseUrl, tenant.keys.read, {
        query: 'How are API keys stored?',
        kb_ids: [kbId],
        mode: 'standard',
      });
      const deltas = events.filter((e) => e.event === 'delta');
      expect(deltas.length).toBeGreaterThan(1);
      const final = events.at(-1)!;
      expect(final.event).toBe('answer');
      expect(
        deltas
          .map((e) => e.data.text)
          .join('')
          .trim(),
      ).toBe(final.data.answer);
      expect(llm.requestsTo('/v1/chat/completions')).toHaveLength(1);
    });

    it('a malformed grade counts as a failed grade: the loop rewrites and retries, and still answers', async () => {
      llm.reset();
      llm.onChat((call) => (call.messages[0].content.startsWith('Task: support-grade') ? 'Yes, fully supported!' : goodModel(call)));
      const res = await rag({ query: 'How are API keys stored?', kb_ids: [kbId], top_k: 3 });
      expect(res.status).toBe(200);
      // the rewrite found no relevant passage the first round lacked, so it is not kept
      expect(res.body.reflection).toMatchObject({ supported: false, useful: true, rounds: 1 });
      expect(res.body.reflection.queries).toEqual(['How are API keys stored?']);
      expect(res.body.answer).toContain('SHA-256');
    });

    const tasksCalled = () => llm.requestsTo('/v1/chat/completions').map((c) => /^Task: ([a-z-]+)/.exec(c.body.messages[0].content)?.[1]);

    it('a rewrite that repeats an earlier query ends the loop: nothing is retrieved or graded twice', async () => {
      llm.reset();
      llm.onChat((call) => {
        const system = call.messages[0].content;
        if (system.startsWith('Task: relevance-grade')) return '{"relevant": false}';
        if (system.startsWith('Task: query-rewrite')) return '{"query": "how are API keys stored"}';
        return goodModel(call);
      });
      const { events } = await ragStream(app.baseUrl, tenant.keys.read, { query: 'How are API keys stored?', kb_ids: [kbId], top_k: 3 });
      const final = events.at(-1)!;
      expect(final.event).toBe('answer');
      expect(final.data.reflection).toMatchObject({ rounds: 1, queries: ['How are API keys stored?'] });
      expect(events.filter((e) => e.event === 'step' && e.data.step === 'retrieve')).toHaveLength(1);
      expect(events.find((e) => e.event === 'step' && e.data.step === 'stop_rewriting')?.data.detail).toEqual({ reason: 'repeated_query' });
      expect(tasksCalled().filter((t) => t === 'relevance-grade')).toHaveLength(3);
      expect(tasksCalled().filter((t) => t === 'query-rewrite')).toHaveLength(1);
    });

    it('a rewrite grades only the passages no earlier round had, and is not kept when none of them is relevant', async () => {
      llm.reset();
      llm.onChat((call) => (call.messages[0].content.startsWith('Task: relevance-grade') ? '{"relevant": false}' : goodModel(call)));
      const { events } = await ragStream(app.baseUrl, tenant.keys.read, { query: 'How are API keys stored?', kb_ids: [kbId], top_k: 3 });
      const final = events.at(-1)!;
      expect(final.data.reflection).toMatchObject({ rounds: 1, queries: ['How are API keys stored?'] });
      expect(final.data.citations).toEqual([]);
      const retrieved = events
        .filter((e) => e.event === 'step' && e.data.step === 'retrieve')
        .map((e) => e.data.detail.chunk_ids as string[]);
      expect(retrieved).toHaveLength(2);
      const unseen = retrieved[1].filter((id) => !retrieved[0].includes(id));
      expect(tasksCalled().filter((t) => t === 'relevance-grade')).toHaveLength(retrieved[0].length + unseen.length);
      expect(events.find((e) => e.event === 'step' && e.data.step === 'stop_rewriting')?.data.detail).toEqual({
        reason: unseen.length === 0 ? 'same_passages' : 'nothing_new',
      });
    });

    it('malformed relevance grades keep no passage: the answer says the documents do not answer', async () => {
      llm.reset();
      llm.onChat((call) => (call.messages[0].content.startsWith('Task: relevance-grade') ? '{"relevant": "maybe"}' : goodModel(call)));
      const res = await rag({ query: 'How are API keys stored?', kb_ids: [kbId], top_k: 2 });
      expect(res.status).toBe(200);
      expect(res.body.citations).toEqual([]);
      expect(res.body.answer).toMatch(/do not contain an answer/);
      for (const grade of res.body.reflection.relevance) expect(grade).toMatchObject({ relevant: false, malformed: true });
    });

    it('a client that disconnects mid-stream cancels the LLM call', async () => {
      llm.reset();
      llm.onChat((call) =>
        call.messages[0].content.startsWith('Task: answer')
          ? 'one two three four five six seven eight nine ten eleven twelve'
          : goodModel(call),
      );
      llm.fail('/v1/chat/completions', { kind: 'slow-stream', chunkDelayMs: 150 }, Infinity);
      const controller = new AbortController();
      const response = await fetch(`${app.baseUrl}/v1/rag`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tenant.keys.read}`, 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'How are API keys stored?', kb_ids: [kbId], mode: 'standard', stream: true }),
        signal: controller.signal,
      });
      const reader = response.body!.getReader();
      let seen = '';
      while (!seen.includes('event: delta')) seen += new TextDecoder().decode((await reader.read()).value);
      controller.abort();
      await new Promise((r) => setTimeout(r, 600));
      const generation = llm.requestsTo('/v1/chat/completions').find((c) => c.body.stream);
      expect(generation?.closedEarly).toBe(true);
      llm.clearFaults();
    });

    it('an LLM answering garbage is a 502 problem naming the provider', async () => {
      llm.reset();
      llm.onChat(goodModel);
      llm.fail('/v1/chat/completions', { kind: 'malformed-json' }, Infinity);
      const res = await rag({ query: 'How are API keys stored?', kb_ids: [kbId], mode: 'standard' });
      expect(res.status).toBe(502);
      expect(res.body).toMatchObject({ status: 502, dependency: 'openai' });
      llm.clearFaults();
    });

    it('an LLM that times out is a 504 problem naming the provider, within the timeout', async () => {
      llm.reset();
      llm.onChat(goodModel);
      llm.fail('/v1/chat/completions', { kind: 'delay', ms: 3000 }, Infinity);
      const started = Date.now();
      const res = await rag({ query: 'How are API keys stored?', kb_ids: [kbId] });
      expect(res.status).toBe(504);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body).toMatchObject({ status: 504, dependency: 'openai' });
      expect(res.body.detail).toContain('openai');
      expect(Date.now() - started).toBeLessThan(2500);
      llm.clearFaults();
    });

    it('an LLM failing with 500 is a 502/503 problem; streamed, an error event ends the stream', async () => {
      llm.reset();
      llm.fail('/v1/chat/completions', { kind: 'status', status: 500 }, Infinity);
      const res = await rag({ query: 'How are API keys stored?', kb_ids: [kbId] });
      expect([502, 503]).toContain(res.status);
      expect(res.body.dependency).toBe('openai');
      const { status, events } = await ragStream(app.baseUrl, tenant.keys.read, {
        query: 'How are API keys stored?',
        kb_ids: [kbId],
        mode: 'standard',
      });
      expect(status).toBe(200);
      expect(events.at(-1)!.event).toBe('error');
      expect([502, 503]).toContain(events.at(-1)!.data.status);
      llm.clearFaults();
    });
  });
});
