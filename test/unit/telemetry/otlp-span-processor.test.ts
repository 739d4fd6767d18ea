import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, diag, DiagLogLevel, SpanKind, trace, TraceFlags, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, setGlobalErrorHandler, type ExportResult } from '@opentelemetry/core';
import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TraceBatchSettings } from '../../../src/config/telemetry-config';
import { OtlpProtoSpanProcessor, otlpProtoTraceDelegate, type EncodedTraceBatch } from '../../../src/telemetry/otlp-span-processor';
import { redactSpan } from '../../../src/telemetry/redacting-span-exporter';

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => context.setGlobalContextManager(contextManager.enable()));
afterAll(() => {
  contextManager.disable();
  context.disable();
});

const OPTIONS: TraceBatchSettings = {
  maxExportBatchSize: 3,
  scheduledDelayMillis: 60_000,
  maxQueueSize: 100,
  exportTimeoutMillis: 5_000,
};

/** a delegate that keeps what it is given and answers when told to (immediately by default) */
function recordingDelegate(answer: 'now' | 'later' = 'now') {
  const batches: EncodedTraceBatch[] = [];
  const waiting: Array<(result: ExportResult) => void> = [];
  let shutDown = false;
  const delegate: IOtlpExportDelegate<EncodedTraceBatch> = {
    export(batch, done) {
      batches.push(batch);
      if (answer === 'now') done({ code: ExportResultCode.SUCCESS });
      else waiting.push(done);
    },
    forceFlush: async () => undefined,
    setMetrics: () => undefined,
    shutdown: async () => {
      shutDown = true;
    },
  };
  return {
    delegate,
    batches,
    answerAll: (code = ExportResultCode.SUCCESS) => waiting.splice(0).forEach((done) => done({ code })),
    isShutDown: () => shutDown,
  };
}

/** spans of the SDK, ended into both the processor and a reference list (an in-memory exporter) */
function tracing(processor: OtlpProtoSpanProcessor) {
  const reference = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'self-rag-pipeline' }),
    spanProcessors: [new SimpleSpanProcessor(reference), processor],
  });
  const tracers = [provider.getTracer('self-rag-pipeline', '1.0.0'), provider.getTracer('self-rag-pipeline.http-server', '1.0.0')];
  let n = 0;
  const end = (attributes: Record<string, string | number> = {}) => {
    const span = tracers[n % 2].startSpan(`span ${n}`, { kind: SpanKind.SERVER, attributes: { n, ...attributes } });
    n++;
    span.end();
  };
  return { end, reference: () => reference.getFinishedSpans() };
}

/** what the SDK's serializer writes for these spans, masked as the processor masks them */
function expectedBytes(spans: ReadableSpan[]): Buffer {
  for (const span of spans) redactSpan(span);
  return Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
}

describe('OtlpProtoSpanProcessor', () => {
  afterEach(() => setGlobalErrorHandler(() => undefined));

  it('sends a batch of maxExportBatchSize spans, encoded as the SDK serializer encodes them, in the order they ended', async () => {
    const { delegate, batches } = recordingDelegate();
    const processor = new OtlpProtoSpanProcessor(delegate, OPTIONS);
    const { end, reference } = tracing(processor);
    for (let i = 0; i < 7; i++) end();
    // the second batch goes once the first has answered
    await new Promise((r) => setImmediate(r));
    expect(batches.map((b) => b.spanCount)).toEqual([3, 3]);
    await processor.forceFlush();
    expect(batches.map((b) => b.spanCount)).toEqual([3, 3, 1]);
    const spans = reference();
    expect(Buffer.from(batches[0].bytes).equals(expectedBytes(spans.slice(0, 3)))).toBe(true);
    expect(Buffer.from(batches[1].bytes).equals(expectedBytes(spans.slice(3, 6)))).toBe(true);
    expect(Buffer.from(batches[2].bytes).equals(expectedBytes(spans.slice(6)))).toBe(true);
  });

  it('sends what waits after scheduledDelayMillis', async () => {
    const { delegate, batches } = recordingDelegate();
    const processor = new OtlpProtoSpanProcessor(delegate, { ...OPTIONS, scheduledDelayMillis: 30 });
    const { end } = tracing(processor);
    end();
    expect(batches).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 120));
    expect(batches.map((b) => b.spanCount)).toEqual([1]);
  });

  it('masks secrets before encoding: the bytes sent never hold them', async () => {
    const { delegate, batches } = recordingDelegate();
    const processor = new OtlpProtoSpanProcessor(delegate, OPTIONS);
    const { end } = tracing(processor);
    end(); // the service's own scope: only its content attributes are masked
    end({ 'url.query': 'q=1&api_key=sk-live-1234567890abcdef', 'http.request.header.authorization': 'Bearer srk_abcdefghijklmnop' });
    await processor.forceFlush();
    const text = Buffer.from(batches[0].bytes).toString('latin1');
    expect(text).not.toContain('sk-live-1234567890abcdef');
    expect(text).not.toContain('srk_abcdefghijklmnop');
    expect(text).toContain('[REDACTED]');
  });

  it('ignores spans that are not sampled', async () => {
    const { delegate, batches } = recordingDelegate();
    const processor = new OtlpProtoSpanProcessor(delegate, OPTIONS);
    const provider = new BasicTracerProvider({ spanProcessors: [processor] });
    const unsampled = trace.setSpanContext(context.active(), {
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      traceFlags: TraceFlags.NONE,
    });
    const span = provider.getTracer('t').startSpan('recorded, not sampled', {}, unsampled);
    span.end();
    await processor.forceFlush();
    expect(batches).toHaveLength(0);
  });

  it('sends one batch at a time, and drops (and counts) spans past maxQueueSize while the collector is slow', async () => {
    const warnings: string[] = [];
    diag.setLogger(
      { warn: (m: string) => warnings.push(m), error: () => {}, info: () => {}, debug: () => {}, verbose: () => {} },
      DiagLogLevel.WARN,
    );
    try {
      const slow = recordingDelegate('later');
      const processor = new OtlpProtoSpanProcessor(slow.delegate, { ...OPTIONS, maxQueueSize: 6 });
      const { end } = tracing(processor);
      for (let i = 0; i < 10; i++) end();
      // 6 queued (two batches of 3), 4 dropped; only the first batch is on its way
      expect(slow.batches.map((b) => b.spanCount)).toEqual([3]);
      expect(warnings.some((w) => /maxQueueSize reached/.test(w))).toBe(true);
      slow.answerAll();
      await new Promise((r) => setImmediate(r));
      expect(slow.batches.map((b) => b.spanCount)).toEqual([3, 3]);
      slow.answerAll();
      await new Promise((r) => setImmediate(r));
      expect(warnings.some((w) => /dropped 4 spans/.test(w))).toBe(true);
      // room again
      for (let i = 0; i < 3; i++) end();
      expect(slow.batches.map((b) => b.spanCount)).toEqual([3, 3, 3]);
      slow.answerAll();
      await processor.forceFlush();
    } finally {
      diag.disable();
    }
  });

  it('reports a failed export to the global error handler and goes on with the next batch', async () => {
    const errors: unknown[] = [];
    setGlobalErrorHandler((e) => errors.push(e));
    const flaky = recordingDelegate('later');
    const processor = new OtlpProtoSpanProcessor(flaky.delegate, OPTIONS);
    const { end } = tracing(processor);
    for (let i = 0; i < 6; i++) end();
    flaky.answerAll(ExportResultCode.FAILED);
    await new Promise((r) => setImmediate(r));
    expect(errors).toHaveLength(1);
    expect(flaky.batches).toHaveLength(2);
    flaky.answerAll();
    await processor.forceFlush();
  });

  it('gives up on an export that does not answer within exportTimeoutMillis', async () => {
    const errors: unknown[] = [];
    setGlobalErrorHandler((e) => errors.push(e));
    const silent = recordingDelegate('later');
    const processor = new OtlpProtoSpanProcessor(silent.delegate, { ...OPTIONS, exportTimeoutMillis: 40 });
    const { end } = tracing(processor);
    for (let i = 0; i < 6; i++) end();
    await new Promise((r) => setTimeout(r, 150));
    expect(silent.batches).toHaveLength(2);
    expect(errors.map((e) => (e as Error).message)).toEqual(['Timeout', 'Timeout']);
  });

  it('flushes on shutdown, shuts the transport down, and takes no span after', async () => {
    const { delegate, batches, isShutDown } = recordingDelegate();
    const processor = new OtlpProtoSpanProcessor(delegate, OPTIONS);
    const { end } = tracing(processor);
    end();
    await processor.shutdown();
    expect(batches.map((b) => b.spanCount)).toEqual([1]);
    expect(isShutDown()).toBe(true);
    end();
    await processor.forceFlush();
    expect(batches).toHaveLength(1);
  });
});

describe('OtlpProtoSpanProcessor, hostile cases', () => {
  afterEach(() => setGlobalErrorHandler(() => undefined));

  it('exports with tracing suppressed: the HTTP call of an export makes no span (else every export would feed the next)', async () => {
    const seen: boolean[] = [];
    const made: { provider?: BasicTracerProvider } = {};
    const delegate: IOtlpExportDelegate<EncodedTraceBatch> = {
      export(_batch, done) {
        // what instrumentation-http does for the transport's request
        const client = made.provider!.getTracer('@opentelemetry/instrumentation-http').startSpan('POST', { kind: SpanKind.CLIENT });
        seen.push(client.isRecording());
        client.end();
        done({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: async () => undefined,
      setMetrics: () => undefined,
      shutdown: async () => undefined,
    };
    const processor = new OtlpProtoSpanProcessor(delegate, { ...OPTIONS, maxExportBatchSize: 1 });
    made.provider = new BasicTracerProvider({ spanProcessors: [processor] });
    made.provider.getTracer('self-rag-pipeline').startSpan('user work').end();
    await processor.forceFlush();
    await processor.forceFlush();
    expect(seen).toEqual([false]);
  });

  it('loses a span the encoder cannot read on its own, without throwing into end(), and goes on', async () => {
    const errors: unknown[] = [];
    setGlobalErrorHandler((e) => errors.push(e));
    const { delegate, batches } = recordingDelegate();
    const processor = new OtlpProtoSpanProcessor(delegate, { ...OPTIONS, maxExportBatchSize: 2 });
    const provider = new BasicTracerProvider({ spanProcessors: [processor] });
    const tracer = provider.getTracer('t');
    const malformed = tracer.startSpan('malformed link');
    malformed.addLink({ context: { spanId: 'b'.repeat(16) } } as never);
    expect(() => malformed.end()).not.toThrow();
    expect(errors).toHaveLength(1);
    tracer.startSpan('fine 1').end();
    tracer.startSpan('fine 2').end();
    await processor.forceFlush();
    expect(batches.map((b) => b.spanCount)).toEqual([2]);
  });

  it('waits for resource attributes still being detected before encoding a batch', async () => {
    const { delegate, batches } = recordingDelegate();
    const processor = new OtlpProtoSpanProcessor(delegate, OPTIONS);
    const hostId = new Promise<string>((resolve) => setTimeout(() => resolve('host-id-detected-later'), 50));
    const resource = resourceFromAttributes({ 'service.name': 'self-rag-pipeline', 'host.id': hostId });
    expect(resource.asyncAttributesPending).toBe(true);
    const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
    for (let i = 0; i < 3; i++) provider.getTracer('t').startSpan(`span ${i}`).end();
    await processor.forceFlush();
    expect(Buffer.from(batches[0].bytes).toString('latin1')).toContain('host-id-detected-later');
  });

  it('keeps going when the global error handler itself throws', async () => {
    setGlobalErrorHandler(() => {
      throw new Error('a handler that throws');
    });
    const flaky = recordingDelegate('later');
    const processor = new OtlpProtoSpanProcessor(flaky.delegate, OPTIONS);
    const { end } = tracing(processor);
    for (let i = 0; i < 6; i++) end();
    flaky.answerAll(ExportResultCode.FAILED);
    await new Promise((r) => setImmediate(r));
    expect(flaky.batches).toHaveLength(2);
    flaky.answerAll();
    await processor.forceFlush();
  });

  it('sends one batch at a time even when the transport ends spans synchronously while it is called', async () => {
    let active = 0;
    let most = 0;
    const started: Span[] = [];
    const batches: number[] = [];
    const delegate: IOtlpExportDelegate<EncodedTraceBatch> = {
      export(batch, done) {
        active++;
        most = Math.max(most, active);
        batches.push(batch.spanCount);
        // spans begun earlier end inside the call (an instrumentation failing synchronously)
        for (const span of started.splice(0)) span.end();
        setImmediate(() => {
          active--;
          done({ code: ExportResultCode.SUCCESS });
        });
      },
      forceFlush: async () => undefined,
      setMetrics: () => undefined,
      shutdown: async () => undefined,
    };
    const processor = new OtlpProtoSpanProcessor(delegate, OPTIONS);
    const tracer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('t');
    for (let i = 0; i < 3; i++) started.push(tracer.startSpan(`early ${i}`));
    for (let i = 0; i < 3; i++) tracer.startSpan(`now ${i}`).end();
    await processor.forceFlush();
    expect(batches).toEqual([3, 3]);
    expect(most).toBe(1);
  });

  it('takes no span once shutdown has begun, and shuts down once however often it is asked', async () => {
    let shutdowns = 0;
    const { delegate, batches } = recordingDelegate();
    const processor = new OtlpProtoSpanProcessor({ ...delegate, shutdown: async () => void shutdowns++ }, OPTIONS);
    const { end } = tracing(processor);
    end();
    const first = processor.shutdown();
    end();
    await Promise.all([first, processor.shutdown()]);
    expect(batches.map((b) => b.spanCount)).toEqual([1]);
    expect(shutdowns).toBe(1);
  });
});

describe('otlpProtoTraceDelegate', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise((r) => (server ? server.close(r) : r(undefined))));

  it('POSTs each batch to the traces endpoint as application/x-protobuf, byte for byte', async () => {
    const received: Array<{ url?: string; type?: string; body: Buffer }> = [];
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ url: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
    const processor = new OtlpProtoSpanProcessor(otlpProtoTraceDelegate(url), OPTIONS);
    const { end, reference } = tracing(processor);
    for (let i = 0; i < 4; i++) end({ 'url.query': 'token=abc' });
    await processor.shutdown();
    expect(received.map((r) => [r.url, r.type])).toEqual([
      ['/v1/traces', 'application/x-protobuf'],
      ['/v1/traces', 'application/x-protobuf'],
    ]);
    const spans = reference();
    expect(received[0].body.equals(expectedBytes(spans.slice(0, 3)))).toBe(true);
    expect(received[1].body.equals(expectedBytes(spans.slice(3)))).toBe(true);
  });
});
