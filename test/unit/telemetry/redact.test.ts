import { describe, expect, it } from 'vitest';
import { redact, redactString } from '../../../src/telemetry/redact';

describe('log redaction', () => {
  it('masks secret fields wherever they are nested', () => {
    const out = redact({
      headers: { authorization: 'Bearer abc.def.ghi', 'x-api-key': 'srk_x' },
      password: 'p',
      nested: { api_key: 'k', ok: 'fine' },
    }) as any;
    expect(out.headers.authorization).toBe('[REDACTED]');
    expect(out.headers['x-api-key']).toBe('[REDACTED]');
    expect(out.password).toBe('[REDACTED]');
    expect(out.nested.api_key).toBe('[REDACTED]');
    expect(out.nested.ok).toBe('fine');
  });

  it('replaces API keys, bearer tokens and URL passwords inside free text', () => {
    const key = `srk_0123456789ab_${'A'.repeat(43)}`;
    const text = redactString(`failed for ${key} with Authorization: Bearer sk-live-abcdefghijkl at postgres://kb:hunter2@db:5432/kb`);
    expect(text).not.toContain(key);
    expect(text).not.toContain('sk-live-abcdefghijkl');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('postgres://kb:[REDACTED]@db:5432/kb');
  });
});
