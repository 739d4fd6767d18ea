import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { ValidationFailedError } from '../../../src/common/errors';
import { matchesMetadataFilter } from '../../../src/common/metadata-filter';
import { createValidationPipe } from '../../../src/common/validation';
import { UploadDocumentDto } from '../../../src/ingestion/documents.dto';
import { CreateKnowledgeBaseDto } from '../../../src/knowledge-bases/knowledge-bases.dto';
import { RetrieveRequestDto } from '../../../src/retrieval/retrieval.dto';
import { CreateApiKeyDto, CreateTenantDto } from '../../../src/tenants/tenants.dto';

const BUILT_IN_NAMES = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', 'isPrototypeOf'];
const KB = '0b6a3f0e-4b7e-4c1a-9d5e-2f1e8c3a7b9d';

async function validate<T>(metatype: new () => T, json: string): Promise<T> {
  return createValidationPipe().transform(JSON.parse(json), { type: 'body', metatype }) as Promise<T>;
}

async function problemOf(metatype: new () => unknown, json: string): Promise<ValidationFailedError> {
  try {
    await validate(metatype, json);
  } catch (error) {
    if (error instanceof ValidationFailedError) return error;
    throw error;
  }
  throw new Error(`accepted: ${json}`);
}

describe('the validation pipe and free-form JSON fields', () => {
  it.each(BUILT_IN_NAMES)('keeps a filter on the field %s, as an ordinary field', async (name) => {
    const dto = await validate(RetrieveRequestDto, `{"query":"q","kb_ids":["${KB}"],"filters":{"${name}":"x","lang":{"in":["en"]}}}`);
    expect(Object.keys(dto.filters!)).toEqual([name, 'lang']);
    expect(Object.getPrototypeOf(dto.filters)).toBeNull();
    expect(matchesMetadataFilter(JSON.parse(`{"${name}":"x","lang":"en"}`), dto.filters)).toBe(true);
    // a document without the field does not match, whatever Object.prototype holds under that name
    expect(matchesMetadataFilter({ lang: 'en' }, dto.filters)).toBe(false);
  });

  it('refuses a filter on __proto__ (no metadata can hold it)', async () => {
    const problem = await problemOf(RetrieveRequestDto, `{"query":"q","kb_ids":["${KB}"],"filters":{"__proto__":"x"}}`);
    expect(problem.message).toContain('__proto__');
  });

  it('keeps metadata keys named like built-ins', async () => {
    const metadata = Object.fromEntries(BUILT_IN_NAMES.map((name) => [name, `v-${name}`]));
    const dto = await validate(UploadDocumentDto, JSON.stringify({ content: 'c', metadata }));
    expect(dto.metadata).toEqual(metadata);
  });

  it('still strips prototype keys from the rest of the body', async () => {
    const problem = await problemOf(CreateTenantDto, '{"name":"t","constructor":{"name":"x"},"other":1}');
    expect(problem.errors.map((e) => e.field)).toEqual(['other']);
  });

  it.each([
    ['deeper than 8 levels', `{"content":"c","metadata":${'{"a":'.repeat(9)}1${'}'.repeat(9)}}`],
    ['2,700 levels deep as multipart text', JSON.stringify({ content: 'c', metadata: `${'{"a":'.repeat(2700)}1${'}'.repeat(2700)}` })],
    [
      'with more than 100 keys in one object',
      JSON.stringify({ content: 'c', metadata: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i])) }),
    ],
    ['over 16 KiB', JSON.stringify({ content: 'c', metadata: { text: 'x'.repeat(17_000) } })],
    ['over 16 KiB as multipart text', JSON.stringify({ content: 'c', metadata: JSON.stringify({ text: 'x'.repeat(17_000) }) })],
    ['holding __proto__', '{"content":"c","metadata":{"a":{"__proto__":{"b":1}}}}'],
    ['not an object', '{"content":"c","metadata":[1,2]}'],
  ])('refuses metadata %s', async (_, json) => {
    const problem = await problemOf(UploadDocumentDto, json);
    expect(problem.errors.map((e) => e.field)).toEqual(['metadata']);
  });

  it('accepts metadata 8 levels deep, as an object or as multipart text', async () => {
    const eight = `${'{"a":'.repeat(8)}1${'}'.repeat(8)}`;
    expect((await validate(UploadDocumentDto, `{"content":"c","metadata":${eight}}`)).metadata).toEqual(JSON.parse(eight));
    expect((await validate(UploadDocumentDto, JSON.stringify({ content: 'c', metadata: eight }))).metadata).toBe(eight);
  });

  it.each([
    [CreateTenantDto, 'name', {}],
    [CreateApiKeyDto, 'name', { scopes: ['read'] }],
    [CreateKnowledgeBaseDto, 'name', {}],
    [UploadDocumentDto, 'title', { content: 'c' }],
  ] as const)('refuses control characters in %o.%s, accepts any script', async (metatype, field, rest) => {
    for (const bad of ['nul\u0000', 'esc\u001b[31m', 'cr\r\nlf', 'tab\t', 'del\u007f', 'c1\u0085']) {
      const problem = await problemOf(metatype, JSON.stringify({ ...rest, [field]: bad }));
      expect(problem.errors.map((e) => e.message)).toContain(`${field} must not contain control characters`);
    }
    const dto = await validate<Record<string, unknown>>(
      metatype as new () => Record<string, unknown>,
      JSON.stringify({ ...rest, [field]: 'résumé 履歴書 🚀' }),
    );
    expect(dto[field]).toBe('résumé 履歴書 🚀');
  });

  it('refuses an ISO week date for expires_at with a 422, not an exception', async () => {
    const problem = await problemOf(CreateApiKeyDto, '{"name":"k","scopes":["read"],"expires_at":"2027-W01-1"}');
    expect(problem.errors.map((e) => e.field)).toEqual(['expires_at']);
  });
});

describe('prototype-named keys anywhere in a body', () => {
  it.each([
    [CreateTenantDto, '{"name":"x","filters":{"constructor":"c"}}', 'filters'],
    [CreateTenantDto, '{"name":"x","metadata":{"constructor":{"a":1}}}', 'metadata'],
    [RetrieveRequestDto, `{"query":"q","kb_ids":["${KB}"],"filters":{"a":{"in":["x"],"constructor":"c"}}}`, 'filters'],
    [RetrieveRequestDto, `{"query":"q","kb_ids":["${KB}"],"filters":{"a":[{"constructor":"c"}]}}`, 'filters'],
    [RetrieveRequestDto, `{"query":"q","kb_ids":["${KB}"],"filters":{"a":{"constructor":{"x":1}}}}`, 'filters'],
  ] as const)('%o %s is a 422 naming %s, never a TypeError', async (metatype, json, field) => {
    const problem = await problemOf(metatype, json);
    expect(problem.errors.map((e) => e.field)).toContain(field);
  });

  it('keeps nested keys named like built-ins in metadata', async () => {
    const metadata = { a: { constructor: 'c', toString: { x: 1 } }, list: [{ constructor: { b: 2 } }] };
    expect((await validate(UploadDocumentDto, JSON.stringify({ content: 'c', metadata }))).metadata).toEqual(metadata);
  });

  it('lists the errors of the other fields and of a free-form field in one 422', async () => {
    const problem = await problemOf(RetrieveRequestDto, '{"query":"","kb_ids":"x","filters":{"a":{"gt":1}}}');
    expect(problem.errors.map((e) => e.field)).toEqual(expect.arrayContaining(['query', 'kb_ids', 'filters']));
    expect(problem.errors.find((e) => e.field === 'filters')?.message).toContain('filters.a:');
  });

  it('takes a null filter as no filter', async () => {
    expect((await validate(RetrieveRequestDto, `{"query":"q","kb_ids":["${KB}"],"filters":null}`)).filters).toBeUndefined();
  });
});
