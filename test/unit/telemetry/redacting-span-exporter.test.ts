import { SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { RedactingSpanExporter, redactAttributeValue } from '../../../src/telemetry/redacting-span-exporter';
import { TRACER_NAME } from '../../../src/telemetry/spans';

describe('span attribute redaction', () => {
  it('masks secret query parameters and keeps the rest', () => {
    expect(redactAttributeValue('limit=1&api_key=srk_abc&cursor=x')).toBe('limit=1&api_key=[REDACTED]&cursor=x');
    expect(redactAttributeValue('http://h/v1/x?token=abc&limit=2')).toBe('http://h/v1/x?token=[REDACTED]&limit=2');
    expect(redactAttributeValue('/v1/knowledge-bases?limit=5')).toBe('/v1/knowledge-bases?limit=5');
    // url.query: no '?' before the first parameter
    expect(redactAttributeValue('api_key=abc&limit=2')).toBe('api_key=[REDACTED]&limit=2');
    expect(redactAttributeValue('monkey=1')).toBe('monkey=1');
  });

  it('masks service keys and passwords in URLs anywhere in a value', () => {
    const key = `srk_0123456789ab_${'B'.repeat(43)}`;
    expect(redactAttributeValue(`/x/${key}`)).not.toContain(key);
    expect(redactAttributeValue('postgres://kb:pw123@db/kb')).not.toContain('pw123');
  });
});

describe('RedactingSpanExporter in a real tracer provider', () => {
  it('masks secrets in span attributes, recorded exceptions and the status message before export', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new RedactingSpanExporter(exporter))] });
    const key = `srk_0123456789ab_${'D'.repeat(43)}`;
    const span = provider
      .getTracer('test')
      .startSpan('db.query', { attributes: { 'url.full': `http://h/v1/x?api_key=${key}&limit=2`, 'db.rows': 3 } });
    span.recordException(new Error(`connect postgres://kb:hunter2@db/kb failed for ${key}`));
    span.setStatus({ code: SpanStatusCode.ERROR, message: `Bearer ${key} refused` });
    span.end();

    const [exported] = exporter.getFinishedSpans();
    const everything = JSON.stringify({ attributes: exported.attributes, events: exported.events, status: exported.status });
    expect(everything).not.toContain(key);
    expect(everything).not.toContain('hunter2');
    expect(exported.attributes['db.rows']).toBe(3);
    expect(exported.attributes['url.full']).toBe('http://h/v1/x?api_key=[REDACTED]&limit=2');
    expect(String(exported.events[0].attributes!['exception.message'])).toContain('failed for');
    expect(exported.events[0].attributes!['exception.type']).toBe('Error');
    expect(exported.status.message).toContain('refused');
  });

  it("leaves the service's own ids and counts alone and masks its captured content, its events and its status", () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new RedactingSpanExporter(exporter))] });
    const key = `srk_0123456789ab_${'E'.repeat(43)}`;
    // a value the service chose is never scanned (a KB named like a key stays as it is); typed text is
    const span = provider
      .getTracer(TRACER_NAME)
      .startSpan('retrieval.retrieve', { attributes: { 'kb.name': 'a=b', 'retrieval.query.text': `find ${key}`, 'retrieval.top_k': 5 } });
    span.recordException(new Error(`refused ${key}`));
    span.setStatus({ code: SpanStatusCode.ERROR, message: `refused ${key}` });
    span.end();

    const [exported] = exporter.getFinishedSpans();
    expect(JSON.stringify({ attributes: exported.attributes, events: exported.events, status: exported.status })).not.toContain(key);
    expect(exported.attributes).toMatchObject({ 'kb.name': 'a=b', 'retrieval.top_k': 5, 'retrieval.query.text': 'find srk_[REDACTED]' });
  });
});
