import { describe, expect, it } from 'vitest';
import { JSON_BODY_LIMITS } from '../../../src/common/body-parsers';
import { jsonShapeViolation, jsonTextDepth } from '../../../src/common/json-shape';

const limits = { maxDepth: 3, maxObjectKeys: 2, maxArrayItems: 3, maxEntries: 5 };

describe('jsonShapeViolation', () => {
  it('accepts what fits every budget', () => {
    expect(jsonShapeViolation({ a: [1, 2, 3], b: { c: 1 } }, { ...limits, maxEntries: 6 })).toBeUndefined();
    expect(jsonShapeViolation('scalar', limits)).toBeUndefined();
  });

  it.each([
    [{ a: { b: { c: {} } } }, 'depth'],
    [{ a: 1, b: 2, c: 3 }, 'object-keys'],
    [{ a: [1, 2, 3, 4] }, 'array-items'],
    [{ a: [1, 2, 3], b: [1, 2] }, 'entries'],
  ])('names the budget %j exceeds', (value, kind) => {
    expect(jsonShapeViolation(value, limits)?.kind).toBe(kind);
  });

  it('refuses a key named in refusedKeys at any level', () => {
    const nested = JSON.parse('{"a":{"__proto__":1}}');
    expect(jsonShapeViolation(nested, { ...limits, refusedKeys: new Set(['__proto__']) })).toEqual({ kind: 'refused-key', key: '__proto__' });
    expect(jsonShapeViolation({ a: { constructor: 1 } }, { ...limits, refusedKeys: new Set(['__proto__']) })).toBeUndefined();
  });

  it('refuses a body of 60,000 keys on the key count, without walking into it', () => {
    const wide: Record<string, number> = {};
    for (let i = 0; i < 60_000; i++) wide[`k${i}`] = i;
    expect(jsonShapeViolation(wide, JSON_BODY_LIMITS)?.kind).toBe('object-keys');
    const manySmall = Array.from({ length: 500 }, () => Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, i])));
    expect(jsonShapeViolation({ items: manySmall }, JSON_BODY_LIMITS)?.kind).toBe('entries');
  });

  it('measures 100,000 levels without overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    expect(jsonShapeViolation(deep, JSON_BODY_LIMITS)).toEqual({ kind: 'depth', limit: JSON_BODY_LIMITS.maxDepth });
  });
});

describe('jsonTextDepth', () => {
  it('counts brackets outside strings only', () => {
    expect(jsonTextDepth('1')).toBe(0);
    expect(jsonTextDepth('{"a":[{"b":1}]}')).toBe(3);
    expect(jsonTextDepth('{"a":"[[[{{{","b":"\\"[[["}')).toBe(1);
  });

  it('stops counting past the bound', () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    expect(jsonTextDepth(deep)).toBe(10_000);
    expect(jsonTextDepth(deep, 32)).toBe(33);
  });
});
