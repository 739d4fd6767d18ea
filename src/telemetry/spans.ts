import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { SERVICE_VERSION } from '../common/version';

export const TRACER_NAME = 'self-rag-pipeline';
// a proxy that follows whichever provider is registered, so it can be kept from the first call
let cachedTracer: Tracer | undefined;
const tracer = (): Tracer => (cachedTracer ??= trace.getTracer(TRACER_NAME, SERVICE_VERSION));

/**
 * Runs `work` inside a child span of the active one; records the error with `error.type` and
 * rethrows. Attribute names follow OpenTelemetry semantic conventions (gen_ai.*, db.*) plus
 * `tenant.id` / `kb.id`.
 */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  work: (span: Span) => Promise<T> | T,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  return tracer().startActiveSpan(name, { attributes, kind }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      markSpanError(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

export function markSpanError(span: Span, error: unknown): void {
  const e = error as { name?: string; code?: string; failure?: string; message?: string };
  span.setAttribute('error.type', e?.failure ?? e?.code ?? e?.name ?? 'Error');
  span.recordException(error instanceof Error ? error : new Error(String(error)));
  span.setStatus({ code: SpanStatusCode.ERROR, message: e?.message?.slice(0, 200) });
}

/** W3C trace context of the active span, to carry into a queued job. */
export function activeTraceCarrier(): Record<string, string> {
  const carrier: Record<string, string> = {};
  const span = trace.getSpan(context.active());
  const ctx = span?.spanContext();
  if (ctx && trace.isSpanContextValid(ctx)) {
    carrier.traceparent = `00-${ctx.traceId}-${ctx.spanId}-0${ctx.traceFlags.toString(16)}`;
  }
  return carrier;
}

export { SpanKind };
