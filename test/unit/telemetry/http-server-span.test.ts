import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Logger } from '@nestjs/common';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enableHttpServerSpans, HTTP_SERVER_TRACER_NAME, parseHost } from '../../../src/telemetry/http-server-span';
import { httpObservabilityMiddleware } from '../../../src/telemetry/http-observability.middleware';
import { redactSpan } from '../../../src/telemetry/redacting-span-exporter';
import { withSpan } from '../../../src/telemetry/spans';

// one provider for the file; each test picks the root sampler's decision and sees what it was asked
const exporter = new InMemorySpanExporter();
let root: Sampler = new AlwaysOnSampler();
const asked: Array<{ name: string; kind: SpanKind; attributes: unknown }> = [];
const recordingRoot: Sampler = {
  shouldSample: (ctx, traceId, name, kind, attributes, links) => {
    asked.push({ name, kind, attributes: { ...attributes } });
    return root.shouldSample(ctx, traceId, name, kind, attributes, links);
  },
  toString: () => 'recording',
};
function sampleWith(sampler: Sampler): void {
  root = sampler;
  exporter.reset();
  asked.length = 0;
}

let server: Server;
let baseUrl: string;
/** what the route handler saw as the active span */
let seen: { traceId: string; recording: boolean } | undefined;

beforeAll(async () => {
  Logger.overrideLogger(false);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({
      sampler: new ParentBasedSampler({ root: recordingRoot }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    }),
  );
  enableHttpServerSpans();
  const app = express();
  app.use(httpObservabilityMiddleware);
  app.use(express.json());
  const look = (_req: express.Request, res: express.Response) => {
    const span = trace.getActiveSpan();
    seen = span && { traceId: span.spanContext().traceId, recording: span.isRecording() };
    res.json({ ok: true });
  };
  // a body parsed first: the handler still runs in the request's context
  app.post('/items/:id', look);
  app.get('/fails', (_req, res) => res.status(503).json({}));
  app.get('/health', async (_req, res) => {
    await withSpan('probe.step', {}, () => undefined);
    look(_req, res);
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  trace.disable();
  propagation.disable();
  context.disable();
});

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('the HTTP server span', () => {
  it("continues the caller's trace with the route, the HTTP conventions' attributes and the trace ids in the response", async () => {
    sampleWith(new AlwaysOnSampler());
    const callerTrace = 'c'.repeat(32);
    const res = await fetch(`${baseUrl}/items/7?q=1`, {
      method: 'POST',
      headers: { traceparent: `00-${callerTrace}-${'d'.repeat(16)}-01`, 'content-type': 'application/json', 'user-agent': 'probe/1' },
      body: JSON.stringify({ a: 1 }),
    });
    expect(res.status).toBe(200);
    await settle();
    const [span] = exporter.getFinishedSpans();
    expect(span.name).toBe('POST /items/:id');
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.instrumentationScope.name).toBe(HTTP_SERVER_TRACER_NAME);
    expect(span.spanContext().traceId).toBe(callerTrace);
    expect(span.parentSpanContext?.spanId).toBe('d'.repeat(16));
    expect(span.attributes).toMatchObject({
      'http.request.method': 'POST',
      'url.scheme': 'http',
      'url.path': '/items/7',
      'url.query': 'q=1',
      'http.route': '/items/:id',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'server.port': (server.address() as AddressInfo).port,
      'network.protocol.version': '1.1',
      'network.peer.address': '127.0.0.1',
      'client.address': '127.0.0.1',
      'user_agent.original': 'probe/1',
    });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(res.headers.get('x-trace-id')).toBe(callerTrace);
    expect(res.headers.get('traceparent')).toBe(`00-${callerTrace}-${span.spanContext().spanId}-01`);
    expect(seen).toEqual({ traceId: callerTrace, recording: true });
  });

  it("leaves a secret in the query to the exporter's masking (the span's scope is not the service's own)", async () => {
    sampleWith(new AlwaysOnSampler());
    await fetch(`${baseUrl}/items/3?api_key=srk_live_abcdef&page=2`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    await settle();
    const [span] = exporter.getFinishedSpans();
    redactSpan(span);
    expect(span.attributes['url.query']).toBe('api_key=[REDACTED]&page=2');
  });

  it('asks the sampler before building any attribute', async () => {
    sampleWith(new AlwaysOnSampler());
    await fetch(`${baseUrl}/items/8`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(asked).toEqual([{ name: 'POST', kind: SpanKind.SERVER, attributes: {} }]);
  });

  it('a request sampled out: no span exported, its trace id still in the headers and the handler context, children sampled out', async () => {
    sampleWith(new AlwaysOffSampler());
    const res = await fetch(`${baseUrl}/items/9`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await settle();
    expect(exporter.getFinishedSpans()).toEqual([]);
    const traceId = res.headers.get('x-trace-id');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(res.headers.get('traceparent')).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
    expect(seen).toEqual({ traceId, recording: false });
  });

  it('a caller that sampled its trace out: the request is not recorded either', async () => {
    sampleWith(new AlwaysOnSampler());
    const callerTrace = 'e'.repeat(32);
    await fetch(`${baseUrl}/items/1`, {
      method: 'POST',
      headers: { traceparent: `00-${callerTrace}-${'f'.repeat(16)}-00`, 'content-type': 'application/json' },
      body: '{}',
    });
    await settle();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(seen).toEqual({ traceId: callerTrace, recording: false });
  });

  it('a 5xx is an error span; a path no route matched has no http.route', async () => {
    sampleWith(new AlwaysOnSampler());
    await fetch(`${baseUrl}/fails`);
    await fetch(`${baseUrl}/nowhere`);
    await settle();
    const [fails, nowhere] = exporter.getFinishedSpans();
    expect([fails.name, fails.status.code, fails.attributes['http.response.status_code']]).toEqual([
      'GET /fails',
      SpanStatusCode.ERROR,
      503,
    ]);
    expect([nowhere.name, nowhere.status.code, nowhere.attributes['http.route']]).toEqual(['GET', SpanStatusCode.UNSET, undefined]);
  });

  it('probes are not traced, nor anything under them', async () => {
    sampleWith(new AlwaysOnSampler());
    const res = await fetch(`${baseUrl}/health`);
    await settle();
    expect(res.headers.get('x-trace-id')).toBeNull();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(asked).toEqual([]);
  });
});

describe('parseHost', () => {
  it('reads host and port, IPv6 in brackets included', () => {
    expect(parseHost('example.com')).toEqual({ address: 'example.com' });
    expect(parseHost('example.com:8080')).toEqual({ address: 'example.com', port: 8080 });
    expect(parseHost('[::1]')).toEqual({ address: '[::1]' });
    expect(parseHost('[::1]:3000')).toEqual({ address: '[::1]', port: 3000 });
    expect(parseHost('example.com:http')).toEqual({ address: 'example.com' });
    expect(parseHost(undefined)).toBeUndefined();
  });
});
