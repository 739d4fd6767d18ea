import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForDocument } from '../support/ingestion-client';
import { api, createTenantWithKeys, startTestApp, type TestApp } from '../support/test-app';

// the pipeline's own spans go to an in-memory exporter registered before the app starts
const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

const parentOf = (span: ReadableSpan) => (span as ReadableSpan & { parentSpanContext?: { spanId: string } }).parentSpanContext?.spanId;

describe('span tree of one /v1/rag call', () => {
  let app: TestApp;
  let key: string;
  let kbId: string;
  let tenantId: string;

  beforeAll(async () => {
    app = await startTestApp();
    const tenant = await createTenantWithKeys(app.baseUrl, 'traced');
    key = tenant.keys.admin;
    tenantId = tenant.id;
    const client = api(app.baseUrl, key);
    kbId = (await client.post('/v1/knowledge-bases', { name: 'kb' })).body.id;
    const secret = 'The launch code phrase is purple-otter-42.';
    for (const content of [
      `Photosynthesis converts light energy into chemical energy in plants. ${secret}`,
      'Mitochondria are the powerhouse of the cell and produce ATP through respiration.',
    ]) {
      const doc = await client.post(`/v1/knowledge-bases/${kbId}/documents`, { content });
      await waitForDocument(app.baseUrl, key, kbId, doc.body.id);
    }
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  it('nests retrieval, grading and generation under one rag span, with tenant and KB ids and no document text', async () => {
    exporter.reset();
    const res = await api(app.baseUrl, key).post('/v1/rag', {
      query: 'How do plants convert light energy?',
      kb_ids: [kbId],
      mode: 'self-rag',
    });
    expect(res.status).toBe(200);
    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === 'rag self-rag');
    expect(root, spans.map((s) => s.name).join(', ')).toBeDefined();
    expect(root!.attributes['tenant.id']).toBe(tenantId);
    expect(root!.attributes['kb.id']).toEqual([kbId]);

    const tree = spans.filter((s) => s.spanContext().traceId === root!.spanContext().traceId);
    const byId = new Map(tree.map((s) => [s.spanContext().spanId, s]));
    const ancestors = (span: ReadableSpan): string[] => {
      const names: string[] = [];
      for (let parent = byId.get(parentOf(span) ?? ''); parent; parent = byId.get(parentOf(parent) ?? '')) names.push(parent.name);
      return names;
    };
    const named = (name: string) => tree.filter((s) => s.name === name);
    for (const step of [
      'rag.retrieve_decision',
      'rag.grade_relevance',
      'rag.generate',
      'rag.grade_support',
      'rag.grade_usefulness',
      'retrieval.retrieve',
      'retrieval.dense_search',
      'retrieval.sparse_search',
      'retrieval.fusion',
    ]) {
      expect(named(step).length, `${step} in ${tree.map((s) => s.name).join(', ')}`).toBeGreaterThan(0);
      for (const span of named(step)) expect(ancestors(span)).toContain('rag self-rag');
    }
    for (const search of ['retrieval.dense_search', 'retrieval.sparse_search', 'retrieval.fusion']) {
      for (const span of named(search)) expect(ancestors(span)).toContain('retrieval.retrieve');
    }
    const embedding = tree.find((s) => s.attributes['gen_ai.operation.name'] === 'embeddings');
    expect(embedding?.attributes['gen_ai.provider.name']).toBe('offline');
    expect(embedding?.attributes['gen_ai.request.model']).toBe('offline-hash-v2');
    const vectorSearch = tree.find((s) => s.attributes['db.operation.name'] === 'search' && s.attributes['db.collection.name']);
    expect(vectorSearch, 'a vector store search span with db.* attributes').toBeDefined();

    const allAttributes = JSON.stringify(tree.map((s) => s.attributes));
    expect(allAttributes).not.toContain('purple-otter-42');
    expect(allAttributes).not.toContain('How do plants convert light energy?');
  });

  it('says on the rag span whether the answer abstained, and puts each verdict on its step span', async () => {
    exporter.reset();
    const answered = await api(app.baseUrl, key).post('/v1/rag', {
      query: 'How do plants convert light energy?',
      kb_ids: [kbId],
      mode: 'self-rag',
    });
    expect(answered.body.citations.length).toBeGreaterThan(0);
    const refused = await api(app.baseUrl, key).post('/v1/rag', {
      query: 'Which river flows through Cairo?',
      kb_ids: [kbId],
      mode: 'standard',
    });
    expect(refused.body.citations).toEqual([]);
    const spans = exporter.getFinishedSpans();
    expect(spans.find((s) => s.name === 'rag self-rag')?.attributes['rag.abstained']).toBe(false);
    expect(spans.find((s) => s.name === 'rag standard')?.attributes['rag.abstained']).toBe(true);
    for (const name of ['rag.grade_support', 'rag.grade_usefulness']) {
      expect(['pass', 'fail', 'malformed']).toContain(spans.find((s) => s.name === name)?.attributes['self_rag.verdict']);
    }
  });
});

describe('span content capture (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true)', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' });
  });

  afterAll(async () => {
    await app?.close();
  });

  it('puts the question on the rag and retrieval spans when opted in', async () => {
    const tenant = await createTenantWithKeys(app.baseUrl, 'captured');
    const client = api(app.baseUrl, tenant.keys.admin);
    const kbId = (await client.post('/v1/knowledge-bases', { name: 'kb' })).body.id;
    exporter.reset();
    expect((await client.post('/v1/rag', { query: 'Where is the question kept?', kb_ids: [kbId], mode: 'standard' })).status).toBe(200);
    const spans = exporter.getFinishedSpans();
    expect(spans.find((s) => s.name === 'rag standard')?.attributes['rag.query.text']).toBe('Where is the question kept?');
    expect(spans.find((s) => s.name === 'retrieval.retrieve')?.attributes['retrieval.query.text']).toBe('Where is the question kept?');
  });
});
