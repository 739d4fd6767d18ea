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
 * `http.target`, `http.url`) into spans, so a client that puts a key in the query string must not
 * leak it into traces. Only string attributes are touched.
 */
export class RedactingSpanProcessor implements SpanProcessor {
  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    const attributes = span.attributes as Record<string, unknown>;
    for (const [key, value] of Object.entries(attributes)) {
      if (typeof value !== 'string') continue;
      const redacted = redactAttributeValue(value);
      if (redacted !== value) attributes[key] = redacted;
    }
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
