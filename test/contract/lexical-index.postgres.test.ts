import { Pool } from 'pg';
import { afterAll, beforeAll } from 'vitest';
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
