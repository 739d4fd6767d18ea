import { context, SpanKind, SpanStatusCode, trace, TraceFlags, type Span } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { encodeTraceExportRequest, TraceRequestBuilder } from '../../../src/telemetry/otlp-trace-encoder';

/** spans made by the real SDK, of every shape the protocol has, from two resources and three scopes */
function sdkSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const resourceA = resourceFromAttributes({
    'service.name': 'self-rag-pipeline',
    'process.pid': 4242,
    'process.command_args': ['node', 'dist/main.js'],
  });
  const resourceB = resourceFromAttributes({ 'service.name': 'other', 'host.name': 'h'.repeat(300) });
  const a = new BasicTracerProvider({ resource: resourceA, spanProcessors: [new SimpleSpanProcessor(memory)] });
  const b = new BasicTracerProvider({ resource: resourceB, spanProcessors: [new SimpleSpanProcessor(memory)] });
  const own = a.getTracer('self-rag-pipeline', '1.2.3');
  const server = a.getTracer('self-rag-pipeline.http-server');
  const schema = b.getTracer('schema-scope', '0.1.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.28.0' });

  const root = server.startSpan('POST /v1/retrieve', {
    kind: SpanKind.SERVER,
    attributes: { 'http.request.method': 'POST', 'server.port': 8020, 'url.query': 'a=1&api_key=[REDACTED]' },
  });
  const parent = trace.setSpan(context.active(), root);
  const child = own.startSpan('retrieval.dense_search', { kind: SpanKind.INTERNAL }, parent);
  child.setAttributes({
    ascii: 'plain',
    accents: 'café — 检索 🚀',
    empty: '',
    yes: true,
    no: false,
    zero: 0,
    int: 123_456,
    negative: -42,
    negativeBig: -(2 ** 40) - 7,
    big: 2 ** 53 + 2,
    int64Edge: 2 ** 62,
    beyondInt64: 2 ** 64,
    double: 0.25,
    negativeDouble: -1.5e-9,
    infinity: Number.POSITIVE_INFINITY,
    nan: Number.NaN,
    strings: ['x', 'ÿ', ''],
    numbers: [1, 2.5, -3],
    booleans: [true, false],
    holes: ['a', null, 'b'],
    long: 'L'.repeat(200),
    longer: 'é'.repeat(9_000),
  });
  child.addEvent('checkpoint', { 'event.count': 3, 'event.note': 'half-way' });
  child.addEvent('bare');
  child.recordException(new Error('store unreachable: connection refused'));
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'store unreachable' });
  child.end();

  const remoteParent = trace.setSpanContext(context.active(), {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('vendor=value,other=1'),
  });
  const linked = own.startSpan(
    'ingestion.batch',
    {
      kind: SpanKind.CONSUMER,
      links: [
        {
          context: { traceId: 'ABCDEF0123456789ABCDEF0123456789', spanId: '0123456789ABCDEF', traceFlags: 1, isRemote: true },
          attributes: { job: 'j1' },
        },
        { context: { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 0, traceState: new TraceState('k=v') } },
      ],
      startTime: [1_700_000_000, 999_999_999],
    },
    remoteParent,
  );
  linked.end([1_700_000_001, 5]);

  const far = schema.startSpan('far future', { kind: SpanKind.CLIENT, startTime: [4_102_444_800, 123] });
  far.setAttribute('nested', ['deep']);
  far.end([4_102_444_800, 456]);
  const producer = schema.startSpan('producer', { kind: SpanKind.PRODUCER });
  producer.end();

  // a span with enough attributes to need a three-byte length
  const wide: Span = own.startSpan('wide', {}, parent);
  for (let i = 0; i < 400; i++) wide.setAttribute(`attribute.${i}`, `value ${i} `.repeat(8));
  wide.end();
  root.setAttribute('http.response.status_code', 200);
  root.end();
  return memory.getFinishedSpans();
}

function sdkBytes(spans: ReadableSpan[]): Buffer {
  return Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
}

describe('encodeTraceExportRequest', () => {
  it('writes the same bytes as the SDK serializer for spans of every shape', () => {
    const spans = sdkSpans();
    expect(spans.length).toBe(6);
    const ours = Buffer.from(encodeTraceExportRequest(spans));
    expect(ours.length).toBeGreaterThan(20_000);
    expect(ours.equals(sdkBytes(spans))).toBe(true);
  });

  it('writes the same bytes for every subset and order of those spans', () => {
    const spans = sdkSpans();
    for (let mask = 1; mask < 1 << spans.length; mask++) {
      const subset = spans.filter((_, i) => mask & (1 << i));
      expect(Buffer.from(encodeTraceExportRequest(subset)).equals(sdkBytes(subset)), `subset ${mask}`).toBe(true);
      const reversed = [...subset].reverse();
      expect(Buffer.from(encodeTraceExportRequest(reversed)).equals(sdkBytes(reversed)), `reversed ${mask}`).toBe(true);
    }
  });

  it('encodes an empty batch as an empty message', () => {
    expect(encodeTraceExportRequest([]).length).toBe(0);
  });

  it('returns bytes of their own: a later encode does not change an earlier result', () => {
    const spans = sdkSpans();
    const first = encodeTraceExportRequest(spans.slice(0, 2));
    const copy = Buffer.from(first);
    encodeTraceExportRequest(spans.slice(2));
    expect(Buffer.from(first).equals(copy)).toBe(true);
  });

  it('grows for a batch larger than its buffer, and is exact after shrinking again', () => {
    const spans = sdkSpans();
    const many = Array.from({ length: 300 }, () => spans).flat(); // ~20 MB
    const big = encodeTraceExportRequest(many);
    expect(big.length).toBeGreaterThan(4 * 1024 * 1024);
    expect(Buffer.from(big).equals(sdkBytes(many))).toBe(true);
    expect(Buffer.from(encodeTraceExportRequest(spans)).equals(sdkBytes(spans))).toBe(true);
  });

  it('builds batch after batch from one builder, reset in between, as separate requests', () => {
    const spans = sdkSpans();
    const builder = new TraceRequestBuilder();
    for (const batch of [spans.slice(0, 4), spans.slice(4), spans, spans.slice(1, 2)]) {
      for (const span of batch) builder.add(span);
      expect(builder.spanCount).toBe(batch.length);
      expect(Buffer.from(builder.build()).equals(sdkBytes(batch))).toBe(true);
      builder.reset();
    }
  });

  it('keeps one scope under two resources apart in one batch', () => {
    const [span] = sdkSpans();
    const elsewhere = Object.create(span, { resource: { value: resourceFromAttributes({ 'service.name': 'elsewhere' }) } }) as ReadableSpan;
    const batch = [span, elsewhere, span];
    expect(Buffer.from(encodeTraceExportRequest(batch)).equals(sdkBytes(batch))).toBe(true);
  });

  it('writes an id with an odd number of hex digits as the whole bytes it spells, with a length that says so', () => {
    const [span] = sdkSpans();
    const link = (traceId: string) =>
      Object.create(span, { links: { value: [{ context: { traceId, spanId: '0123456789abcdef', traceFlags: 1 } }] } }) as ReadableSpan;
    const odd = Buffer.from(encodeTraceExportRequest([link('a'.repeat(31))]));
    const even = Buffer.from(encodeTraceExportRequest([link('a'.repeat(30))]));
    expect(odd.equals(even)).toBe(true);
  });
});
