import { HttpException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { MAX_LISTED_FIELD_ERRORS, NotFoundError, ValidationFailedError } from '../../../src/common/errors';
import { toProblem } from '../../../src/common/problem-details.filter';
import { generateApiKey } from '../../../src/tenants/api-key-secret';

const KEY = generateApiKey().key;
const UUID = '0b6a3f0e-4b7e-4c1a-9d5e-2f1e8c3a7b9d';

describe('what a problem document repeats of the request', () => {
  it('names an id-shaped path value, never an API key or other text', () => {
    expect(new NotFoundError('knowledge base', UUID).message).toBe(`knowledge base '${UUID}' not found`);
    expect(new NotFoundError('knowledge base', KEY).message).toBe('knowledge base not found');
    expect(new NotFoundError('tenant', 'sradm_secretsecretsecret').message).toBe('tenant not found');
  });

  it('redacts path segments that are neither ids nor route words in `instance`', () => {
    const { problem } = toProblem(new NotFoundError('knowledge base', KEY), `/v1/knowledge-bases/${KEY}/documents/${UUID}`);
    expect(problem.instance).toBe(`/v1/knowledge-bases/{redacted}/documents/${UUID}`);
    expect(JSON.stringify(problem)).not.toContain(KEY);
  });

  it("redacts the path in Express's message for an unknown route", () => {
    const { problem } = toProblem(new HttpException(`Cannot GET /v1/${KEY}`, 404), `/v1/${KEY}`);
    expect(problem.detail).toBe('Cannot GET /v1/{redacted}');
    expect(JSON.stringify(problem)).not.toContain(KEY);
  });

  it('lists the first field errors only, with their count, and keeps detail short', () => {
    const errors = Array.from({ length: 60_000 }, (_, i) => ({ field: `k${i}${'x'.repeat(500)}`, message: 'should not exist' }));
    const { problem } = toProblem(new ValidationFailedError(errors), '/v1/retrieve');
    expect(problem.errors).toHaveLength(MAX_LISTED_FIELD_ERRORS);
    expect(problem.error_count).toBe(60_000);
    expect(problem.detail.length).toBeLessThanOrEqual(1001);
    expect(JSON.stringify(problem).length).toBeLessThan(10_000);
  });

  it('lists every field error when there are few, without a count', () => {
    const { problem } = toProblem(new ValidationFailedError([{ field: 'name', message: 'must not be empty' }]), '/v1/tenants');
    expect(problem.errors).toEqual([{ field: 'name', message: 'must not be empty' }]);
    expect(problem.error_count).toBeUndefined();
    expect(problem.detail).toBe('name: must not be empty');
  });
});
