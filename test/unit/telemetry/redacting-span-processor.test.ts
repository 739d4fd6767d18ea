import { describe, expect, it } from 'vitest';
import { redactAttributeValue } from '../../../src/telemetry/redacting-span-processor';

describe('span attribute redaction', () => {
  it('masks secret query parameters and keeps the rest', () => {
    expect(redactAttributeValue('limit=1&api_key=srk_abc&cursor=x')).toBe('limit=1&api_key=[REDACTED]&cursor=x');
    expect(redactAttributeValue('http://h/v1/x?token=abc&limit=2')).toBe('http://h/v1/x?token=[REDACTED]&limit=2');
    expect(redactAttributeValue('/v1/knowledge-bases?limit=5')).toBe('/v1/knowledge-bases?limit=5');
  });

  it('masks service keys and passwords in URLs anywhere in a value', () => {
    const key = `srk_0123456789ab_${'B'.repeat(43)}`;
    expect(redactAttributeValue(`/x/${key}`)).not.toContain(key);
    expect(redactAttributeValue('postgres://kb:pw123@db/kb')).not.toContain('pw123');
  });
});
