import { describe, expect, it } from 'vitest';
import { JSON_BODY_LIMITS } from '../../../src/common/body-parsers';
import { jsonBytesShapeViolation, jsonShapeViolation, jsonTextDepth } from '../../../src/common/json-shape';

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
    expect(jsonShapeViolation(nested, { ...limits, refusedKeys: new Set(['__proto__']) })).toEqual({
      kind: 'refused-key',
      key: '__proto__',
    });
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

describe('jsonBytesShapeViolation (the raw body, before parsing)', () => {
  const scan = (value: unknown, budget = limits) => jsonBytesShapeViolation(Buffer.from(JSON.stringify(value)), budget)?.kind;

  it.each([
    [{ a: [1, 2], b: { c: 1 } }, undefined],
    [{ a: { b: { c: {} } } }, 'depth'],
    [{ a: 1, b: 2, c: 3 }, 'object-keys'],
    [{ a: [1, 2, 3, 4] }, 'array-items'],
    [{ a: [[], [], []], b: [{}] }, 'entries'],
    [
      [
        [1, 2, 3],
        [1, 2, 3],
      ],
      'entries',
    ],
  ])('finds in %j what the walk of the parsed value finds', (value, kind) => {
    expect(scan(value)).toBe(kind);
    expect(jsonShapeViolation(value, limits)?.kind).toBe(kind);
  });

  it('ignores brackets, colons, commas and escaped quotes inside strings, and multi-byte characters', () => {
    expect(scan({ 'a:b,c': '{[:,]}\\"{{{{', 'é履🚀': ['x,y', '"]['] })).toBeUndefined();
    expect(scan(['', '', ''])).toBeUndefined();
    expect(scan([[], [], []], { ...limits, maxEntries: 3 })).toBeUndefined();
  });

  it('agrees with the walk of the parsed value on whether 2,000 random values fit', () => {
    let seed = 17;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const strings = ['', 'a', 'x:y', '[{', '"', '\\', 'é履🚀', ',]}'];
    const generate = (depth: number): unknown => {
      const roll = random();
      if (depth > 4 || roll < 0.4) return [1, 'é', true, null, strings[Math.floor(random() * strings.length)]][Math.floor(random() * 5)];
      const size = Math.floor(random() * 4);
      if (roll < 0.7) return Array.from({ length: size }, () => generate(depth + 1));
      return Object.fromEntries(
        Array.from({ length: size }, (_, i) => [`${strings[Math.floor(random() * strings.length)]}${i}`, generate(depth + 1)]),
      );
    };
    for (let i = 0; i < 2000; i++) {
      const value = generate(1);
      const text = i % 2 === 0 ? JSON.stringify(value) : JSON.stringify(value, null, 2);
      expect(jsonBytesShapeViolation(Buffer.from(text), limits) === undefined, text).toBe(jsonShapeViolation(value, limits) === undefined);
    }
  });

  it('refuses 60,000 keys of a 1 MB body on its bytes', () => {
    const wide = `{${Array.from({ length: 60_000 }, (_, i) => `"key_${String(i).padStart(5, '0')}":1`).join(',')}}`;
    expect(jsonBytesShapeViolation(Buffer.from(wide), JSON_BODY_LIMITS)).toEqual({
      kind: 'object-keys',
      limit: JSON_BODY_LIMITS.maxObjectKeys,
    });
    expect(jsonBytesShapeViolation(Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), JSON_BODY_LIMITS)?.kind).toBe('depth');
  });

  it('accepts every body of a real request', () => {
    const upload = { title: 'Handbook', content: 'x'.repeat(100_000), metadata: { lang: 'en', tags: ['a', 'b'], nested: { year: 2024 } } };
    const retrieve = {
      query: 'q',
      kb_ids: Array.from({ length: 20 }, (_, i) => `kb-${i}`),
      filters: { year: { in: Array.from({ length: 100 }, (_, i) => i) } },
      fusion: { method: 'rrf', k: 60 },
    };
    for (const body of [upload, retrieve])
      expect(jsonBytesShapeViolation(Buffer.from(JSON.stringify(body)), JSON_BODY_LIMITS)).toBeUndefined();
  });
});
