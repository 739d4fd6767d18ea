import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { hrTimeToMilliseconds, suppressTracing, TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type SpanLimits,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTraceExportRequest } from '../../../src/telemetry/otlp-trace-encoder';
import { ServiceSpan, ServiceTracerProvider } from '../../../src/telemetry/service-tracer';

const OWN = 'self-rag-pipeline';
const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => context.setGlobalContextManager(contextManager.enable()));
afterAll(() => {
  contextManager.disable();
  context.disable();
});

function setup(options: { sampler?: ParentBasedSampler | AlwaysOnSampler; spanLimits?: SpanLimits; processors?: SpanProcessor[] } = {}) {
  const memory = new InMemorySpanExporter();
  const sdk = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'self-rag-pipeline' }),
    sampler: options.sampler,
    spanLimits: options.spanLimits,
    spanProcessors: [new SimpleSpanProcessor(memory), ...(options.processors ?? [])],
  });
  const provider = new ServiceTracerProvider(sdk, new Set([OWN]));
  return { memory, sdk, provider, own: provider.getTracer(OWN, '1.0.0'), sdkTracer: sdk.getTracer(OWN, '1.0.0') };
}

/** the same calls on a span of either tracer */
const REFUSED = Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });

function exercise(tracer: Tracer, parent = ROOT_CONTEXT): void {
  const span = tracer.startSpan(
    'step',
    {
      kind: SpanKind.CLIENT,
      attributes: { given: 'at start', n: 1 },
      links: [
        {
          context: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1, traceState: new TraceState('k=v') },
          attributes: { l: 1 },
        },
      ],
    },
    parent,
  );
  span.setAttribute('string', 'value');
  span.setAttribute('ignored', undefined as never);
  span.setAttributes({ list: ['a', 'b'], flag: true, ratio: 0.5, '': 'empty key is refused' });
  span.setAttribute('invalid', { nested: 1 } as never);
  span.addEvent('plain');
  span.addEvent('with attributes', { count: 2, nothing: undefined });
  span.recordException(REFUSED);
  span.recordException('a bare string');
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
  span.updateName('step renamed');
  span.end();
  span.setAttribute('after end', 1);
  span.end();
}

/** what a backend sees of a span, without its ids and times */
function shape(span: ReadableSpan) {
  return {
    name: span.name,
    kind: span.kind,
    attributes: span.attributes,
    events: span.events.map((e) => ({ name: e.name, attributes: e.attributes, dropped: e.droppedAttributesCount })),
    links: span.links,
    status: span.status,
    dropped: [span.droppedAttributesCount, span.droppedEventsCount, span.droppedLinksCount],
    scope: span.instrumentationScope,
    resource: span.resource.attributes,
    ended: span.ended,
    sampled: span.spanContext().traceFlags,
  };
}

describe('ServiceTracerProvider', () => {
  it('gives the service scopes its tracer and every other scope the SDK tracer', () => {
    const { provider, own } = setup();
    expect(own.startSpan('x')).toBeInstanceOf(ServiceSpan);
    expect(provider.getTracer('@opentelemetry/instrumentation-undici').startSpan('x')).not.toBeInstanceOf(ServiceSpan);
    expect(provider.getTracer(OWN, '1.0.0')).toBe(own);
  });

  it('falls back to the SDK tracers when the provider has no resolved options', () => {
    const plain = { getTracer: () => trace.getTracer('noop') };
    const provider = new ServiceTracerProvider(plain, new Set([OWN]));
    expect(provider.getTracer(OWN).startSpan('x')).not.toBeInstanceOf(ServiceSpan);
  });
});

describe('ServiceSpan', () => {
  it('records what an SDK span records for the same calls', () => {
    const { memory, own, sdkTracer } = setup();
    exercise(sdkTracer);
    exercise(own);
    const [sdkSpan, ownSpan] = memory.getFinishedSpans();
    expect(ownSpan).toBeInstanceOf(ServiceSpan);
    expect(shape(ownSpan)).toEqual(shape(sdkSpan));
    expect(ownSpan.events[2].attributes?.['exception.type']).toBe('ECONNREFUSED');
  });

  it('is encoded for export the same way by the SDK serializer and the service encoder', () => {
    const { memory, own } = setup();
    exercise(own);
    const spans = memory.getFinishedSpans();
    expect(Buffer.from(encodeTraceExportRequest(spans)).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!))).toBe(true);
  });

  it('joins the parent trace, whichever tracer made the parent', () => {
    const { memory, own, sdkTracer } = setup();
    const root = own.startSpan('root');
    const sdkChild = sdkTracer.startSpan('sdk child', {}, trace.setSpan(ROOT_CONTEXT, root));
    const ownGrandchild = own.startSpan('own grandchild', {}, trace.setSpan(ROOT_CONTEXT, sdkChild));
    ownGrandchild.end();
    sdkChild.end();
    root.end();
    const [grandchild, child, parent] = memory.getFinishedSpans();
    expect(child.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(grandchild.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(child.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(grandchild.parentSpanContext?.spanId).toBe(child.spanContext().spanId);
    expect(parent.parentSpanContext).toBeUndefined();
    expect(new Set(memory.getFinishedSpans().map((s) => s.spanContext().spanId)).size).toBe(3);
  });

  it('keeps a remote parent and its trace state', () => {
    const { own } = setup();
    const remote = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: new TraceState('vendor=1'),
    });
    const span = own.startSpan('child', {}, remote) as unknown as ReadableSpan;
    expect(span.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span.parentSpanContext?.isRemote).toBe(true);
    expect(span.spanContext().traceState?.serialize()).toBe('vendor=1');
  });

  it('starts a new trace under an invalid parent or with `root`', () => {
    const { own } = setup();
    const invalid = trace.setSpanContext(ROOT_CONTEXT, { traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 1 });
    const span = own.startSpan('x', {}, invalid) as unknown as ReadableSpan;
    expect(span.spanContext().traceId).not.toBe('0'.repeat(32));
    expect(span.parentSpanContext).toBeUndefined();
    const parent = own.startSpan('parent');
    const root = own.startSpan('root', { root: true }, trace.setSpan(ROOT_CONTEXT, parent)) as unknown as ReadableSpan;
    expect(root.spanContext().traceId).not.toBe(parent.spanContext().traceId);
  });

  it('asks the sampler: a sampled-out span records nothing but carries ids, and its children are sampled out', () => {
    const { memory, own } = setup({ sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0) }) });
    const root = own.startSpan('root');
    expect(root).not.toBeInstanceOf(ServiceSpan);
    expect(root.isRecording()).toBe(false);
    expect(trace.isSpanContextValid(root.spanContext())).toBe(true);
    expect(root.spanContext().traceFlags).toBe(TraceFlags.NONE);
    const child = own.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, root));
    expect(child.isRecording()).toBe(false);
    expect(child.spanContext().traceId).toBe(root.spanContext().traceId);
    root.end();
    child.end();
    expect(memory.getFinishedSpans()).toHaveLength(0);
  });

  it('makes no span while tracing is suppressed', () => {
    const { own } = setup();
    const span = own.startSpan('probe', {}, suppressTracing(ROOT_CONTEXT));
    expect(span.isRecording()).toBe(false);
    expect(trace.isSpanContextValid(span.spanContext())).toBe(false);
  });

  it('applies the span limits the SDK provider resolved', () => {
    const { memory, own } = setup({
      spanLimits: {
        attributeCountLimit: 2,
        attributeValueLengthLimit: 4,
        eventCountLimit: 1,
        linkCountLimit: 1,
        attributePerEventCountLimit: 1,
      },
    });
    const span = own.startSpan('limited', {
      links: [
        { context: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 } },
        { context: { traceId: 'c'.repeat(32), spanId: 'd'.repeat(16), traceFlags: 1 } },
      ],
    });
    span.setAttributes({ a: 'truncated', b: ['long string', 'ok'], c: 'dropped' });
    span.setAttribute('a', 'replaced: an existing key is not a new one');
    span.addEvent('first');
    span.addEvent('second', { x: 1, y: 2 });
    span.end();
    const [ended] = memory.getFinishedSpans();
    expect(ended.attributes).toEqual({ a: 'repl', b: ['long', 'ok'] });
    expect(ended.droppedAttributesCount).toBe(1);
    expect(ended.events.map((e) => e.name)).toEqual(['second']);
    expect(ended.events[0].droppedAttributesCount).toBe(1);
    expect(ended.droppedEventsCount).toBe(1);
    expect(ended.links.map((l) => l.context.traceId)).toEqual(['c'.repeat(32)]);
    expect(ended.droppedLinksCount).toBe(1);
  });

  it('times a span with the monotonic clock from a wall-clock start', async () => {
    const { memory, own } = setup();
    const before = Date.now();
    const span = own.startSpan('timed');
    await new Promise((r) => setTimeout(r, 30));
    span.end();
    const [ended] = memory.getFinishedSpans();
    const start = hrTimeToMilliseconds(ended.startTime);
    expect(start).toBeGreaterThanOrEqual(before);
    expect(start).toBeLessThanOrEqual(Date.now());
    expect(hrTimeToMilliseconds(ended.duration)).toBeGreaterThanOrEqual(25);
    expect(hrTimeToMilliseconds(ended.endTime) - start).toBeCloseTo(hrTimeToMilliseconds(ended.duration), 3);
  });

  it('keeps given start and end times, and a duration of zero for an end before the start', () => {
    const { memory, own } = setup();
    const given = own.startSpan('given', { startTime: [1_700_000_000, 5] });
    given.end([1_700_000_002, 10]);
    const backwards = own.startSpan('backwards', { startTime: new Date(1_700_000_000_000) });
    backwards.end(new Date(1_699_999_999_000));
    const [a, b] = memory.getFinishedSpans();
    expect(a.startTime).toEqual([1_700_000_000, 5]);
    expect(a.endTime).toEqual([1_700_000_002, 10]);
    expect(a.duration).toEqual([2, 5]);
    expect(b.duration).toEqual([0, 0]);
  });

  it('calls the processors at start, ending and end, once each', () => {
    const calls: string[] = [];
    const spy: SpanProcessor = {
      onStart: (span) => calls.push(`start ${(span as ReadableSpan).name}`),
      onEnding: (span) => calls.push(`ending ${span.name} recording=${span.isRecording()}`),
      onEnd: (span) => calls.push(`end ${span.name} ended=${span.ended}`),
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    };
    const { own } = setup({ processors: [spy] });
    const span: Span = own.startSpan('work');
    span.end();
    span.end();
    expect(calls).toEqual(['start work', 'ending work recording=true', 'end work ended=true']);
  });

  it('runs startActiveSpan with the span active, in each of its overloads', () => {
    const { own } = setup();
    const seen: boolean[] = [];
    own.startActiveSpan('a', (span) => seen.push(trace.getActiveSpan() === span));
    own.startActiveSpan('b', { kind: SpanKind.SERVER }, (span) => seen.push(trace.getActiveSpan() === span));
    const parent = own.startSpan('parent');
    own.startActiveSpan('c', {}, trace.setSpan(ROOT_CONTEXT, parent), (span) => {
      seen.push((span as unknown as ReadableSpan).parentSpanContext?.spanId === parent.spanContext().spanId);
    });
    expect(seen).toEqual([true, true, true]);
  });

  it('has its duration from the moment end() is called, as span processors see it in onEnding', () => {
    const durations: number[][] = [];
    const spy: SpanProcessor = {
      onStart: () => undefined,
      onEnding: (span) => durations.push([...span.duration]),
      onEnd: () => undefined,
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    };
    const { own } = setup({ processors: [spy] });
    own.startSpan('x').end();
    expect(durations).toHaveLength(1);
    expect(durations[0][0]).toBeGreaterThanOrEqual(0);
    expect(durations[0]).not.toEqual([-1, -1]);
  });

  it('reads an invalid time as now, as the SDK does, instead of throwing', () => {
    const { memory, own } = setup();
    const before = Date.now();
    const span = own.startSpan('bad times', { startTime: 'yesterday' as never });
    span.addEvent('bad event time', null as never);
    span.addEvent('another', {}, {} as never);
    span.end(null as never);
    const [ended] = memory.getFinishedSpans();
    for (const time of [ended.startTime, ended.endTime, ...ended.events.map((e) => e.time)]) {
      expect(hrTimeToMilliseconds(time)).toBeGreaterThanOrEqual(before - 1);
      expect(hrTimeToMilliseconds(time)).toBeLessThanOrEqual(Date.now() + 1);
    }
  });

  it('places a performance.now() timestamp on the wall clock as the SDK does', () => {
    const { memory, own, sdkTracer } = setup();
    for (const tracer of [sdkTracer, own]) {
      const span = tracer.startSpan('perf');
      const at = performance.now();
      span.addEvent('at', at);
      span.end(at);
    }
    const [sdkSpan, ownSpan] = memory.getFinishedSpans();
    const offset = (span: ReadableSpan) => hrTimeToMilliseconds(span.events[0].time) - hrTimeToMilliseconds(span.startTime);
    // both within a few ms of their start; the two spans' clocks agree to well under a millisecond
    expect(Math.abs(offset(ownSpan) - offset(sdkSpan))).toBeLessThan(1);
    expect(hrTimeToMilliseconds(ownSpan.endTime) - hrTimeToMilliseconds(ownSpan.events[0].time)).toBeCloseTo(0, 3);
  });

  it('keeps its own copy of an array attribute', () => {
    const { memory, own } = setup();
    const list = ['a'];
    const span = own.startSpan('arrays');
    span.setAttribute('list', list);
    list.push('changed later by the caller');
    span.end();
    expect(memory.getFinishedSpans()[0].attributes.list).toEqual(['a']);
  });
});
