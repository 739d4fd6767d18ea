import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { redactString } from './redact';

const SECRET_QUERY_PARAM = /([?&](?:api[_-]?key|apikey|key|token|access[_-]?token|secret|password|passwd|sig|signature|authorization)=)[^&#\s]*/gi;

/** Masks secret query parameters and anything that looks like a key in one attribute value. */
export function redactAttributeValue(value: string): string {
  const masked = value.includes('=') ? value.replace(SECRET_QUERY_PARAM, '$1[REDACTED]') : value;
  return masked.includes('srk_') || /bearer|:\/\/[^/\s]*@|sk-/i.test(masked) ? redactString(masked) : masked;
}

/**
 * Runs before the exporting processor: instrumentations copy raw URLs (`url.query`, `url.full`,
 * `http.target`, `http.url`) into spans, and recorded exceptions carry error messages and stacks
 * (`exception.message`, `exception.stacktrace`: a driver's connection string, a provider's echo of
 * a key), so a secret in any of them must not reach the trace backend. String attributes of the
 * span and of its events, and the status message, are masked in place.
 */
export class RedactingSpanProcessor implements SpanProcessor {
  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    redactAttributes(span.attributes);
    for (const event of span.events) {
      if (event.attributes) redactAttributes(event.attributes);
    }
    const status = span.status as { message?: string };
    if (status.message) status.message = redactAttributeValue(status.message);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function redactAttributes(attributes: Record<string, unknown>): void {
  for (const key in attributes) {
    const value = attributes[key];
    if (typeof value !== 'string') continue;
    const redacted = redactAttributeValue(value);
    if (redacted !== value) attributes[key] = redacted;
  }
}
