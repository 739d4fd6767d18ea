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

describe('span export batches (OTEL_BSP_*)', () => {
  it("take the SDK's defaults", () => {
    expect(loadTelemetryConfig({}).traceBatch).toEqual({
      maxExportBatchSize: 512,
      scheduledDelayMillis: 5000,
      maxQueueSize: 2048,
      exportTimeoutMillis: 30_000,
    });
  });

  it('read the four variables, keep a batch within the queue, and ignore values that are not positive numbers', () => {
    expect(
      loadTelemetryConfig({
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '128',
        OTEL_BSP_SCHEDULE_DELAY: '250',
        OTEL_BSP_MAX_QUEUE_SIZE: '4096',
        OTEL_BSP_EXPORT_TIMEOUT: '1000',
      }).traceBatch,
    ).toEqual({ maxExportBatchSize: 128, scheduledDelayMillis: 250, maxQueueSize: 4096, exportTimeoutMillis: 1000 });
    expect(
      loadTelemetryConfig({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '9000', OTEL_BSP_MAX_QUEUE_SIZE: '100' }).traceBatch.maxExportBatchSize,
    ).toBe(100);
    expect(
      loadTelemetryConfig({ OTEL_BSP_SCHEDULE_DELAY: '-5', OTEL_BSP_EXPORT_TIMEOUT: 'soon', OTEL_BSP_MAX_QUEUE_SIZE: ' ' }).traceBatch,
    ).toEqual({
      maxExportBatchSize: 512,
      scheduledDelayMillis: 5000,
      maxQueueSize: 2048,
      exportTimeoutMillis: 30_000,
    });
  });
});
