import { describe, expect, it } from 'vitest';
import { UploadBytesBudget } from '../../../src/ingestion/upload-bytes-budget';

const MB = 1024 * 1024;

describe('UploadBytesBudget: a tenant’s upload bytes per second', () => {
  it('lets a burst through, then refuses until the bytes have refilled, naming the wait', () => {
    let now = 0;
    const budget = new UploadBytesBudget(2 * MB, 40 * MB, () => now);
    expect(budget.take('a', 15 * MB)).toBe(0);
    expect(budget.take('a', 15 * MB)).toBe(0);
    // 10 MB left: 15 MB more needs 5 MB at 2 MB/s
    expect(budget.take('a', 15 * MB)).toBeCloseTo(2.5);
    now += 2_500;
    expect(budget.take('a', 15 * MB)).toBe(0);
    expect(budget.take('a', 15 * MB)).toBeCloseTo(7.5);
  });

  it('keeps tenants apart, and an upload larger than the burst waits for a full bucket rather than forever', () => {
    let now = 0;
    const budget = new UploadBytesBudget(1 * MB, 4 * MB, () => now);
    expect(budget.take('a', 4 * MB)).toBe(0);
    expect(budget.take('b', 4 * MB)).toBe(0);
    expect(budget.take('a', 100 * MB)).toBeCloseTo(4);
    now += 4_000;
    expect(budget.take('a', 100 * MB)).toBe(0);
  });

  it('does nothing at 0 bytes per second', () => {
    const budget = new UploadBytesBudget(0, 1, () => 0);
    for (let i = 0; i < 5; i++) expect(budget.take('a', 100 * MB)).toBe(0);
  });
});
