import { Logger } from '@nestjs/common';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionPoolStats } from '../../src/database/data-source';
import { PostgresLexicalIndex } from '../../src/lexical-index/postgres/postgres-lexical-index';
import { PostgresServer, startPostgres } from '../support/postgres-server';
import { lexicalIndexContract } from './lexical-index.contract';

let server: PostgresServer;
let pool: Pool;
let tables = 0;
let table = '';

beforeAll(async () => {
  server = await startPostgres();
  pool = new Pool({ connectionString: server.url, max: 4 });
});

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

lexicalIndexContract('postgres (tsvector + GIN, BM25 in SQL)', {
  async create() {
    table = `lexical_contract_${++tables}`;
    const index = new PostgresLexicalIndex({ pool, tableName: table });
    await index.init();
    await index.init(); // idempotent
    return index;
  },
  async reopen() {
    const index = new PostgresLexicalIndex({ connectionString: server.url, tableName: table });
    await index.init();
    return index;
  },
  async dispose() {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
  },
});

describe('the Postgres lexical index’s own pool', () => {
  it('is counted in database_connections_*, logs slow statements without parameters, and ends with close()', async () => {
    const warnings: unknown[] = [];
    Logger.overrideLogger({ log() {}, error() {}, warn: (message: unknown) => warnings.push(message), debug() {}, verbose() {} });
    const idle = new DataSource({ type: 'postgres', url: server.url });
    const before = connectionPoolStats(idle);
    const index = new PostgresLexicalIndex({ connectionString: server.url, tableName: 'lexical_pool_check', slowQueryMs: 0 });
    try {
      await index.init();
      await index.upsert([{ tenantId: 't', id: 'c1', kbId: 'k', documentId: 'd', text: 'connection pools are counted' }]);
      await index.search({ tenantId: 't', kbIds: ['k'], query: 'secret-query-term pools', topK: 5 });
      const during = connectionPoolStats(idle);
      expect(during.active + during.idle).toBeGreaterThan(before.active + before.idle);
      const slow = warnings.filter((w) => (w as { message?: string }).message === 'Slow query detected') as Array<{
        statement: string;
        query_time_ms: number;
      }>;
      expect(slow.some((w) => w.statement.startsWith('WITH scope AS'))).toBe(true);
      expect(JSON.stringify(slow)).not.toContain('secret-query-term');
    } finally {
      Logger.overrideLogger(false);
      await pool.query('DROP TABLE IF EXISTS lexical_pool_check');
      await index.close();
    }
    expect(connectionPoolStats(idle)).toEqual(before);
  });
});
