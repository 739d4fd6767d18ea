import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDataSource } from '../../../src/database/data-source';

describe('slow query logging', () => {
  it('warns with the statement (never the parameters) when a query exceeds SLOW_QUERY_MS', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slowq-'));
    const warnings: Array<{ message: string; fields: Record<string, unknown> }> = [];
    const dataSource = createDataSource(
      { type: 'sqlite', url: path.join(dir, 'db.sqlite'), poolSize: 1, slowQueryMs: 5 },
      { warn: (message, fields) => warnings.push({ message, fields }) },
    );
    await dataSource.initialize();
    try {
      await dataSource.query('SELECT 1 WHERE ? = ?', ['secret-param', 'x']);
      const fast = warnings.length;
      await dataSource.query(
        'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT COUNT(*) FROM n WHERE ? = ?',
        ['secret-param', 'secret-param'],
      );
      expect(warnings.length).toBeGreaterThan(fast);
      const last = warnings[warnings.length - 1];
      expect(last.message).toBe('Slow query detected');
      expect(String(last.fields.statement)).toContain('WITH RECURSIVE');
      expect(JSON.stringify(last)).not.toContain('secret-param');
      expect(last.fields.query_time_ms).toBeGreaterThanOrEqual(5);
    } finally {
      await dataSource.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
