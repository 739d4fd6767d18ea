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

describe("the service's own server and Nest spans", () => {
  it("follow the auto-instrumentations' variables for http and nestjs-core", () => {
    const spans = (env: Record<string, string>) => {
      const config = loadTelemetryConfig(env);
      return [config.httpServerSpans, config.nestSpans];
    };
    expect(spans({})).toEqual([true, true]);
    expect(spans({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,undici' })).toEqual([true, false]);
    expect(spans({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: '@opentelemetry/instrumentation-nestjs-core' })).toEqual([false, true]);
    expect(spans({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'nestjs-core, http' })).toEqual([false, false]);
    expect(spans({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: ' ', OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'fs' })).toEqual([true, true]);
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
