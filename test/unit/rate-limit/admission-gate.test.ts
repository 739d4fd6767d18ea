import { describe, expect, it } from 'vitest';
import { AdmissionGate, budgetOf } from '../../../src/rate-limit/admission';
import { hashKey } from '../../../src/common/presented-key';

function clocked(authFailureLimit = 3) {
  const clock = { now: 1_000_000 };
  return { clock, gate: new AdmissionGate(authFailureLimit, () => clock.now) };
}

const realKey = hashKey('srk_0123456789ab_real-secret');
const forgedKey = hashKey('srk_0123456789ab_forged-secret');

describe('AdmissionGate', () => {
  it('refuses the exact key the rate limit refused, on that budget, until the block ends', () => {
    const { clock, gate } = clocked();
    expect(gate.check(realKey, 'query', '10.0.0.1')).toBeUndefined();
    gate.rememberRefusal(realKey, 'query', 1, 'rate limit of 4 requests per 1 s for this API key exceeded');
    const verdict = gate.check(realKey, 'query', '10.0.0.9');
    expect(verdict).toBeDefined();
    expect(JSON.parse(verdict!.detailJson)).toContain('for this API key');
    expect(gate.retryAfterSeconds(verdict!)).toBe(1);
    // same lookup prefix, another secret: not that key; another budget: not refused
    expect(gate.check(forgedKey, 'query', '10.0.0.1')).toBeUndefined();
    expect(gate.check(realKey, 'management', '10.0.0.1')).toBeUndefined();
    clock.now += 999;
    expect(gate.check(realKey, 'query', '10.0.0.1')).toBeDefined();
    clock.now += 1;
    expect(gate.check(realKey, 'query', '10.0.0.1')).toBeUndefined();
  });

  it('refuses an address past its failed-authentication budget, except keys that authenticated recently', () => {
    const { clock, gate } = clocked(3);
    gate.authenticated(realKey);
    for (let i = 0; i < 3; i++) gate.authenticationFailed('10.0.0.1');
    expect(gate.check(forgedKey, 'query', '10.0.0.1')).toBeDefined();
    expect(gate.check(undefined, 'management', '10.0.0.1')).toBeDefined();
    expect(gate.check(realKey, 'query', '10.0.0.1')).toBeUndefined();
    expect(gate.check(forgedKey, 'query', '10.0.0.2')).toBeUndefined();
    clock.now += 1000;
    expect(gate.check(forgedKey, 'query', '10.0.0.1')).toBeUndefined();
  });

  it('holds a refused answer until the refusal ends plus up to 250 ms, at most 1.25 s', () => {
    const { clock, gate } = clocked();
    gate.rememberRefusal(realKey, 'query', 3, 'over');
    expect(gate.holdMs(gate.check(realKey, 'query', 'a')!)).toBe(1250);
    clock.now += 2800;
    for (let i = 0; i < 50; i++) {
      const hold = gate.holdMs(gate.check(realKey, 'query', 'a')!);
      expect(hold).toBeGreaterThanOrEqual(200);
      expect(hold).toBeLessThanOrEqual(450);
    }
  });

  it('puts retrieve and rag on one budget however Express matched the path', () => {
    expect(['/v1/retrieve', '/v1/rag', '/V1/Retrieve', '/v1/rag/'].map(budgetOf)).toEqual(['query', 'query', 'query', 'query']);
    expect(['/v1/knowledge-bases', '/v1/tenants', '/v1/retrieve/x'].map(budgetOf)).toEqual(['management', 'management', 'management']);
  });
});
