import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRACER_NAME, withSpan } from '../../../src/telemetry/spans';

// one global provider for the file (spans.ts keeps its tracer); each test picks the root sampler's decision
const exporter = new InMemorySpanExporter();
let root: Sampler = new AlwaysOnSampler();
const switchable: Sampler = { shouldSample: (...args) => root.shouldSample(...args), toString: () => 'switchable' };
function install(sampler: Sampler): InMemorySpanExporter {
  root = sampler;
  exporter.reset();
  return exporter;
}

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ sampler: new ParentBasedSampler({ root: switchable }), spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
});

afterAll(() => {
  trace.disable();
  context.disable();
});

describe('withSpan', () => {
  it('under a sampled request: a child span with its attributes, built lazily, and the step inside it', async () => {
    const exporter = install(new AlwaysOnSampler());
    const tracer = trace.getTracer(TRACER_NAME);
    await tracer.startActiveSpan('request', async (parent) => {
      await withSpan(
        'step',
        () => ({ 'retrieval.top_k': 5 }),
        (span) => {
          span.setAttribute('retrieval.hits', 3);
          expect(trace.getActiveSpan()).toBe(span);
        },
      );
      parent.end();
    });
    const step = exporter.getFinishedSpans().find((s) => s.name === 'step');
    expect(step?.attributes).toEqual({ 'retrieval.top_k': 5, 'retrieval.hits': 3 });
    expect(step?.parentSpanContext?.spanId).toBe(
      exporter
        .getFinishedSpans()
        .find((s) => s.name === 'request')
        ?.spanContext().spanId,
    );
  });

  it('under a request sampled out: no span, no attributes built, the work still runs in the request context', async () => {
    install(new AlwaysOffSampler());
    const tracer = trace.getTracer(TRACER_NAME);
    let built = 0;
    const result = await tracer.startActiveSpan('request', async (parent) => {
      expect(parent.isRecording()).toBe(false);
      const value = await withSpan(
        'step',
        () => ((built += 1), { 'retrieval.top_k': 5 }),
        (span) => {
          expect(span.isRecording()).toBe(false);
          // the parent stays the active span: no child context was made
          expect(trace.getActiveSpan()).toBe(parent);
          return 42;
        },
      );
      parent.end();
      return value;
    });
    expect(result).toBe(42);
    expect(built).toBe(0);
  });

  it('starts a root span when nothing is active (a background job), so the sampler decides', async () => {
    const exporter = install(new AlwaysOnSampler());
    await withSpan('ingestion.batch', { 'ingestion.batch.size': 2 }, () => undefined);
    expect(exporter.getFinishedSpans().map((s) => [s.name, s.attributes])).toEqual([['ingestion.batch', { 'ingestion.batch.size': 2 }]]);
  });

  it("under a remote parent that was sampled (a queued job's upload trace): a child span", async () => {
    const exporter = install(new AlwaysOffSampler());
    const remote = trace.setSpanContext(context.active(), {
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    await context.with(remote, () =>
      withSpan(
        'ingestion.document',
        () => ({ 'document.id': 'd' }),
        () => undefined,
      ),
    );
    expect(exporter.getFinishedSpans().map((s) => [s.name, s.spanContext().traceId])).toEqual([['ingestion.document', 'a'.repeat(32)]]);
  });
});
