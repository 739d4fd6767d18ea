import { context, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { childSpansRecorded } from './spans';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_ROUTE, ATTR_URL_FULL } from './semconv';

/**
 * The spans instrumentation-nestjs-core made, with the same names and attributes (under this
 * service's scope name): `Create Nest App`; per request a controller span (`KnowledgeBasesController.get`, type
 * `request_context`, covering guards, interceptors and pipes) and a handler span under it (`get`,
 * type `handler`). The difference: under a parent that records nothing (a sampled-out request)
 * no span, attribute set, context switch or extra promise is made; Nest calls its handler as it
 * would without telemetry.
 */
export const NEST_TRACER_NAME = 'self-rag-pipeline.nestjs';
const COMPONENT = '@nestjs/core';

type Handler = (...args: unknown[]) => unknown;
/** the two methods patched, as properties: they are called with their prototype's `this` */
interface RouterExecutionContextPrototype {
  create: (
    this: unknown,
    instance: object,
    callback: Handler,
    ...rest: unknown[]
  ) => (req: NestRequest, res: unknown, next: unknown) => Promise<void>;
}
interface NestFactoryPrototype {
  create: (this: unknown, module: { name?: string }, ...rest: unknown[]) => Promise<unknown>;
}
/** what the controller span reads of Express's request */
interface NestRequest {
  method?: string;
  originalUrl?: string;
  url?: string;
  route?: { path?: string };
}

let restore: (() => void) | undefined;

/** Patches Nest's router and factory (before the application is made); returns what undoes it. */
export function traceNestRequests(): () => void {
  if (restore) return restore;
  /* eslint-disable @typescript-eslint/no-require-imports -- Nest's internals, patched as the instrumentation did */
  const nestVersion = (require('@nestjs/core/package.json') as { version: string }).version;
  const router = (require('@nestjs/core/router/router-execution-context') as { RouterExecutionContext: { prototype: object } })
    .RouterExecutionContext.prototype as RouterExecutionContextPrototype;
  const factory = (require('@nestjs/core/nest-factory') as { NestFactoryStatic: { prototype: object } }).NestFactoryStatic
    .prototype as NestFactoryPrototype;
  /* eslint-enable @typescript-eslint/no-require-imports */
  // a proxy that follows the registered provider: one lookup, not one per span
  let cachedTracer: Tracer | undefined;
  const tracer = (): Tracer => (cachedTracer ??= trace.getTracer(NEST_TRACER_NAME, nestVersion));
  const createApp = factory.create;
  const createHandler = router.create;
  restore = () => {
    factory.create = createApp;
    router.create = createHandler;
    restore = undefined;
  };
  const common = { component: COMPONENT, 'nestjs.version': nestVersion };

  factory.create = function (this: unknown, module, ...rest) {
    const attributes = { ...common, 'nestjs.type': 'app_creation', 'nestjs.module': module.name };
    return inSpan(tracer().startSpan('Create Nest App'), attributes, () => createApp.call(this, module, ...rest));
  };

  router.create = function (this: unknown, instance, callback, ...rest) {
    const callbackName = callback.name;
    const controllerName = instance.constructor?.name || 'UnnamedInstance';
    const controllerSpanName = callbackName ? `${controllerName}.${callbackName}` : controllerName;
    const handlerSpanName = callbackName || 'anonymous nest handler';
    const handlerAttributes: Attributes = { ...common, 'nestjs.type': 'handler', 'nestjs.callback': callbackName };

    const tracedCallback = function (this: unknown, ...args: unknown[]) {
      if (!childSpansRecorded()) return callback.apply(this, args);
      return inSpan(tracer().startSpan(handlerSpanName), handlerAttributes, () => callback.apply(this, args));
    };
    // Nest reads guards, interceptors, status codes and headers from the handler's metadata
    if (callbackName) Object.defineProperty(tracedCallback, 'name', { value: callbackName });
    for (const key of Reflect.getMetadataKeys(callback) as unknown[])
      Reflect.defineMetadata(key, Reflect.getMetadata(key, callback), tracedCallback);

    const handler = createHandler.call(this, instance, tracedCallback, ...rest);
    return function (this: unknown, req: NestRequest, res: unknown, next: unknown) {
      if (!childSpansRecorded()) return handler.call(this, req, res, next);
      const attributes: Attributes = {
        ...common,
        'nestjs.type': 'request_context',
        [ATTR_HTTP_ROUTE]: req.route?.path,
        'nestjs.controller': controllerName,
        'nestjs.callback': callbackName,
        [ATTR_HTTP_REQUEST_METHOD]: req.method,
        [ATTR_URL_FULL]: req.originalUrl || req.url,
      };
      return inSpan(tracer().startSpan(controllerSpanName), attributes, () => handler.call(this, req, res, next));
    };
  };
  return restore;
}

/**
 * Runs `work` with `span` active; records a failure as the instrumentation did, and ends the span.
 * The attributes are set once the span exists (given at the start, the SDK copies and checks them
 * twice more, for a sampler that reads none of them).
 */
async function inSpan<T>(span: Span, attributes: Attributes, work: () => T | Promise<T>): Promise<T> {
  if (span.isRecording()) span.setAttributes(attributes);
  return context.with(trace.setSpan(context.active(), span), async () => {
    try {
      return await work();
    } catch (error) {
      const e = error as Error;
      span.recordException(e);
      span.setStatus({ code: SpanStatusCode.ERROR, message: e?.message });
      throw error;
    } finally {
      span.end();
    }
  });
}
