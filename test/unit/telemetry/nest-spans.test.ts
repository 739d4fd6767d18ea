import type { AddressInfo } from 'node:net';
import { Controller, Get, HttpCode, Logger, Param, Post, UseGuards, type CanActivate, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Module } from '@nestjs/common';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type ReadableSpan,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enableHttpServerSpans } from '../../../src/telemetry/http-server-span';
import { httpObservabilityMiddleware } from '../../../src/telemetry/http-observability.middleware';
import { NEST_TRACER_NAME, traceNestRequests } from '../../../src/telemetry/nest-spans';

class RefuseGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

@Controller('echo')
class EchoController {
  @Get(':id')
  echo(@Param('id') id: string) {
    return { id, traceId: trace.getActiveSpan()?.spanContext().traceId };
  }

  @Post()
  @HttpCode(202)
  accept() {
    return { accepted: true };
  }

  @Get('guarded/:id')
  @UseGuards(RefuseGuard)
  guarded() {
    return { reached: true };
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

// every sampling decision of the process is counted: spans that are never started are never asked about
const exporter = new InMemorySpanExporter();
let decisions = 0;
const sampler: Sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
const counting: Sampler = {
  shouldSample: (...args) => ((decisions += 1), sampler.shouldSample(...args)),
  toString: () => 'counting',
};

let app: INestApplication;
let baseUrl: string;
let untrace: () => void;
let startup: ReadableSpan[] = [];

beforeAll(async () => {
  Logger.overrideLogger(false);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ sampler: counting, spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  enableHttpServerSpans();
  untrace = traceNestRequests();
  app = await NestFactory.create<NestExpressApplication>(EchoModule, { logger: false });
  app.use(httpObservabilityMiddleware);
  await app.listen(0, '127.0.0.1');
  startup = exporter.getFinishedSpans();
  baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  untrace?.();
  trace.disable();
  propagation.disable();
  context.disable();
});

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
function reset(): void {
  exporter.reset();
  decisions = 0;
}

describe("Nest's controller and handler spans", () => {
  it('under a sampled request: the controller span (guards, pipes, handler) and the handler span, named and attributed as before', async () => {
    reset();
    const res = await fetch(`${baseUrl}/echo/7?q=1`);
    expect(await res.json()).toEqual({ id: '7', traceId: res.headers.get('x-trace-id') });
    await settle();
    const spans = exporter.getFinishedSpans();
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
    expect(Object.keys(byName).sort()).toEqual(['EchoController.echo', 'GET /echo/:id', 'echo']);
    const controller = byName['EchoController.echo'];
    expect(controller.instrumentationScope.name).toBe(NEST_TRACER_NAME);
    expect(controller.attributes).toEqual({
      component: '@nestjs/core',
      'nestjs.version': expect.stringMatching(/^\d+\./),
      'nestjs.type': 'request_context',
      'http.route': '/echo/:id',
      'nestjs.controller': 'EchoController',
      'nestjs.callback': 'echo',
      'http.request.method': 'GET',
      'url.full': '/echo/7?q=1',
    });
    expect(byName.echo.attributes).toEqual({
      component: '@nestjs/core',
      'nestjs.version': expect.stringMatching(/^\d+\./),
      'nestjs.type': 'handler',
      'nestjs.callback': 'echo',
    });
    expect(controller.parentSpanContext?.spanId).toBe(byName['GET /echo/:id'].spanContext().spanId);
    expect(byName.echo.parentSpanContext?.spanId).toBe(controller.spanContext().spanId);
    expect(decisions).toBe(3);
  });

  it('under a request sampled out: no span is started, the handler runs as without telemetry', async () => {
    reset();
    const res = await fetch(`${baseUrl}/echo/8`, { headers: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-00` } });
    expect(await res.json()).toEqual({ id: '8', traceId: 'a'.repeat(32) });
    await settle();
    expect(exporter.getFinishedSpans()).toEqual([]);
    // the server span's decision only
    expect(decisions).toBe(1);
  });

  it("keeps the handler's metadata: its status code and its guards", async () => {
    reset();
    expect((await fetch(`${baseUrl}/echo`, { method: 'POST' })).status).toBe(202);
    expect((await fetch(`${baseUrl}/echo/guarded/1`)).status).toBe(403);
    await settle();
    const failed = exporter.getFinishedSpans().find((s) => s.name === 'EchoController.guarded');
    expect(failed?.status.code).toBe(2);
    // the guard refused: the handler never ran
    expect(exporter.getFinishedSpans().some((s) => s.name === 'guarded')).toBe(false);
  });

  it('a Create Nest App span at start-up', () => {
    expect(startup.map((s) => [s.name, s.attributes['nestjs.type'], s.attributes['nestjs.module']])).toEqual([
      ['Create Nest App', 'app_creation', 'EchoModule'],
    ]);
  });
});
