import { describe, expect, it } from 'vitest';
import { expressLayerSpansRequested } from '../../../src/telemetry/sdk';

describe('Express layer spans', () => {
  it('are off unless OTEL_NODE_ENABLED_INSTRUMENTATIONS lists express', () => {
    expect(expressLayerSpansRequested(undefined)).toBe(false);
    expect(expressLayerSpansRequested('http,nestjs-core')).toBe(false);
    expect(expressLayerSpansRequested('http, express ,nestjs-core')).toBe(true);
    expect(expressLayerSpansRequested('@opentelemetry/instrumentation-express')).toBe(true);
  });
});
