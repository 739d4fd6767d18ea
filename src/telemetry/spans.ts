import {
  context,
  INVALID_SPAN_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import { ATTR_ERROR_TYPE } from './semconv';
import { SERVICE_VERSION } from '../common/version';

export const TRACER_NAME = 'self-rag-pipeline';
// a proxy that follows whichever provider is registered, so it can be kept from the first call
let cachedTracer: Tracer | undefined;
export const tracer = (): Tracer => (cachedTracer ??= trace.getTracer(TRACER_NAME, SERVICE_VERSION));

/** what `work` gets when nothing is recorded: every call on it is a no-op */
const NOT_RECORDED: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Whether a child of the active span could be recorded. A parent that was sampled out (its trace
 * flags say so: the parent-based and trace-id-ratio samplers then drop every child), or any span
 * while the SDK is disabled, makes every child a no-op too, so the child's attributes, its span
 * object and its context switch are not worth building. A remote parent that was sampled (a queued
 * job's upload trace) does not record here but its children do. With no parent at all (a
 * background job's root span) the sampler decides, so the span is started, unless tracing is
 * suppressed (under a probe).
 */
export function childSpansRecorded(): boolean {
  const active = context.active();
  const parent = trace.getSpan(active);
  if (parent === undefined) return !isTracingSuppressed(active);
  return parent.isRecording() || (parent.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
}

/**
 * Runs `work` inside a child span of the active one; records the error with `error.type` and
 * rethrows. Attribute names follow OpenTelemetry semantic conventions (gen_ai.*, db.*) plus
 * `tenant.id` / `kb.id`. `attributes` may be a function: it is called only when the span records.
 * Under a parent that records nothing, `work` runs at once with a no-op span and no span is made.
 */
export async function withSpan<T>(
  name: string,
  attributes: Attributes | (() => Attributes),
  work: (span: Span) => Promise<T> | T,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  if (!childSpansRecorded()) return work(NOT_RECORDED);
  // attributes set once the span exists: given at the start, the SDK copies and checks them twice
  // more (for the sampler, which here is parent-based or ratio and reads none of them)
  return tracer().startActiveSpan(name, { kind }, async (span) => {
    if (span.isRecording()) span.setAttributes(typeof attributes === 'function' ? attributes() : attributes);
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
  if (!span.isRecording()) return;
  const e = error as { name?: string; code?: string; failure?: string; message?: string };
  span.setAttribute(ATTR_ERROR_TYPE, e?.failure ?? e?.code ?? e?.name ?? 'Error');
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
