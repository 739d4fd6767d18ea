import { describe, expect, it } from 'vitest';
import { loadTelemetryConfig } from '../../../src/config/telemetry-config';

describe('Express layer spans', () => {
  it('are off unless OTEL_NODE_ENABLED_INSTRUMENTATIONS lists express', () => {
    const express = (list?: string) => loadTelemetryConfig({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: list }).expressLayerSpans;
    expect(express(undefined)).toBe(false);
    expect(express('http,nestjs-core')).toBe(false);
    expect(express('http, express ,nestjs-core')).toBe(true);
    expect(express('@opentelemetry/instrumentation-express')).toBe(true);
  });
});

describe('probe paths', () => {
  it('are /health and /ready, with or without a query; /health/deep, the API and /metrics asked of the API port are not', async () => {
    const { isProbePath } = await import('../../../src/telemetry/sdk');
    expect(['/health', '/ready', '/ready?x=1'].map(isProbePath)).toEqual([true, true, true]);
    expect(['/health/deep', '/v1/retrieve', '/healthz', '/metrics', undefined].map(isProbePath)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
