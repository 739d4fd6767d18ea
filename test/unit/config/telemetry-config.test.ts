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
