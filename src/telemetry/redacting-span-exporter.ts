import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { redactString } from './redact';
import { TRACER_NAME } from './spans';

// at a query's start too: url.query carries no '?'
const SECRET_QUERY_PARAM =
  /((?:^|[?&])(?:api[_-]?key|apikey|key|token|access[_-]?token|secret|password|passwd|sig|signature|authorization)=)[^&#\s]*/gi;

/** Masks secret query parameters and anything that looks like a key in one attribute value. */
export function redactAttributeValue(value: string): string {
  const masked = value.includes('=') ? value.replace(SECRET_QUERY_PARAM, '$1[REDACTED]') : value;
  return masked.includes('srk_') || /bearer|:\/\/[^/\s]*@|sk-/i.test(masked) ? redactString(masked) : masked;
}

/**
 * The service's own spans carry ids, counts and model names it chose; text a caller wrote
 * reaches them only through the opt-in content capture (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT).
 */
const OWN_CONTENT_ATTRIBUTE = /\.text$|\.messages$/;

/**
 * Masks secrets in the spans it exports, then hands them to `inner`. Instrumentations copy raw
 * URLs (`url.query`, `url.full`, `http.target`, `http.url`), statements and headers into spans, and
 * recorded exceptions carry error messages and stacks (`exception.message`, `exception.stacktrace`:
 * a driver's connection string, a provider's echo of a key), so a secret in any of them must not
 * reach the trace backend. Strings are masked in place: every attribute of another
 * instrumentation's span, the content attributes of the service's own, the attributes of every
 * event, and the status message.
 *
 * Used for the gRPC and http/json exports, once per exported batch behind the SDK's batch
 * processor, and never for spans that are not exported. The default http/protobuf export masks
 * each sampled span with redactSpan as it ends, just before encoding it (otlp-span-processor.ts).
 */
export class RedactingSpanExporter implements SpanExporter {
  constructor(private readonly inner: SpanExporter) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    for (const span of spans) redactSpan(span);
    this.inner.export(spans, resultCallback);
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

export function redactSpan(span: ReadableSpan): void {
  const own = span.instrumentationScope.name === TRACER_NAME;
  redactAttributes(span.attributes, own ? OWN_CONTENT_ATTRIBUTE : undefined);
  for (const event of span.events) {
    if (event.attributes) redactAttributes(event.attributes);
  }
  const status = span.status as { message?: string };
  if (status.message) status.message = redactAttributeValue(status.message);
}

function redactAttributes(attributes: Record<string, unknown>, onlyKeys?: RegExp): void {
  for (const key in attributes) {
    const value = attributes[key];
    if (typeof value !== 'string' || (onlyKeys && !onlyKeys.test(key))) continue;
    const redacted = redactAttributeValue(value);
    if (redacted !== value) attributes[key] = redacted;
  }
}
