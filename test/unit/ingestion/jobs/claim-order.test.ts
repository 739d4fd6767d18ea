import { describe, expect, it } from 'vitest';
import { inTenantTurns, type ClaimedJob } from '../../../../src/ingestion/jobs/ingestion-jobs.repository';

const job = (id: string, tenantId: string, runAfter: string): ClaimedJob => ({
  id,
  tenantId,
  kbId: 'kb',
  documentId: `doc-${id}`,
  generation: 1,
  attempts: 1,
  maxAttempts: 3,
  traceContext: null,
  runAfter,
  interruptedAt: null,
  lastError: null,
});

describe('order of a claimed batch', () => {
  it('runs each tenant’s first job before any tenant’s second, whatever order the database returned', () => {
    const t = (s: number) => `2026-12-03T07:00:0${s}.000Z`;
    // as UPDATE … RETURNING may give them: A's backlog in physical order, B's single job last
    const returned = [
      job('a3', 'A', t(3)),
      job('a1', 'A', t(1)),
      job('a2', 'A', t(2)),
      job('a4', 'A', t(4)),
      job('c2', 'C', t(6)),
      job('b1', 'B', t(5)),
      job('c1', 'C', t(5)),
    ];
    expect(inTenantTurns(returned).map((j) => j.id)).toEqual(['a1', 'b1', 'c1', 'a2', 'c2', 'a3', 'a4']);
  });

  it('breaks ties of due time by id and keeps an empty batch empty', () => {
    const same = '2026-12-03T07:00:00.000Z';
    expect(inTenantTurns([job('b', 'A', same), job('a', 'A', same)]).map((j) => j.id)).toEqual(['a', 'b']);
    expect(inTenantTurns([])).toEqual([]);
  });
});
