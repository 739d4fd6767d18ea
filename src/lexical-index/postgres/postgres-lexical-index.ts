import { Pool, type QueryResult, type QueryResultRow } from 'pg';
import { countConnectionPool, logIfSlow } from '../../database';
import type { MetadataFilter } from '../../common/metadata-filter';
import { analyze, termFrequencies } from '../../text/analyzer';
import { Bm25Parameters, DEFAULT_BM25_PARAMETERS } from '../bm25';
import { LexicalHit, LexicalIndex, LexicalRecord, LexicalSearchQuery } from '../lexical-index.port';

export interface PostgresLexicalIndexOptions {
  /** a pool the caller owns (not ended by close()), or a connection string for a pool of its own */
  pool?: Pool;
  connectionString?: string;
  /** must start with `lexical_`; default `lexical_chunks` */
  tableName?: string;
  bm25?: Partial<Bm25Parameters>;
  /** statements slower than this are logged like TypeORM's (SLOW_QUERY_MS); default 1000 */
  slowQueryMs?: number;
}

/** a statement of the index's own pool that runs longer is cancelled by the server */
const STATEMENT_TIMEOUT_MS = 30_000;

/** a longer query is cut to its first distinct terms, so a huge query costs bounded time */
const MAX_QUERY_TERMS = 256;
/** rows per INSERT statement */
const UPSERT_BATCH = 500;
/** tsvector keeps at most 256 positions per lexeme */
const MAX_POSITIONS = 255;

/**
 * Scale-out BM25 in PostgreSQL full text. Chunks are analyzed here (the same analyzer as the
 * embedded index: stems, CJK words and bigrams) and stored as a `tsvector` of those terms whose
 * positions count each term's frequency; no text search configuration re-tokenizes them
 * (the vector is built directly, not by to_tsvector). A GIN index finds the chunks matching any
 * query term; they are then ranked by real BM25 (Lucene idf, k1/b configurable) computed in SQL
 * from the term frequencies, the document frequencies of the searched KBs and their average
 * chunk length, instead of ts_rank (which knows no idf). Term frequencies are capped at 255.
 */
export class PostgresLexicalIndex extends LexicalIndex {
  readonly kind = 'postgres';
  private readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly table: string;
  private readonly parameters: Bm25Parameters;
  private readonly slowQueryMs: number;
  private uncountPool: () => void = () => undefined;

  constructor(options: PostgresLexicalIndexOptions) {
    super();
    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else if (options.connectionString) {
      this.pool = new Pool({
        connectionString: options.connectionString,
        max: 10,
        connectionTimeoutMillis: 5_000,
        statement_timeout: STATEMENT_TIMEOUT_MS,
      });
      this.uncountPool = countConnectionPool(this.pool);
      // an idle client dropped by the server (restart, failover) must not crash the process;
      // the pool replaces it and the next query reconnects
      this.pool.on('error', () => undefined);
      this.ownsPool = true;
    } else {
      throw new Error('PostgresLexicalIndex needs a pool or a connection string');
    }
    const table = options.tableName ?? 'lexical_chunks';
    if (!/^lexical_[a-z0-9_]{1,40}$/.test(table)) throw new Error(`invalid lexical table name: ${table}`);
    this.table = table;
    this.parameters = { ...DEFAULT_BM25_PARAMETERS, ...options.bm25 };
    this.slowQueryMs = options.slowQueryMs ?? 1_000;
  }

  /** a statement on the pool, logged when slow (statement only, never the parameters) */
  private async run<R extends QueryResultRow>(sql: string, params: unknown[]): Promise<QueryResult<R>> {
    const started = performance.now();
    try {
      return await this.pool.query<R>(sql, params);
    } finally {
      logIfSlow(performance.now() - started, this.slowQueryMs, sql);
    }
  }

  async init(): Promise<void> {
    const t = this.table;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // replicas starting together must not race on CREATE … IF NOT EXISTS
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`lexical-index-init:${t}`]);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${t} (
          tenant_id   text NOT NULL,
          id          text NOT NULL,
          kb_id       text NOT NULL,
          document_id text NOT NULL,
          metadata    jsonb,
          terms       tsvector NOT NULL,
          length      integer NOT NULL,
          updated_at  timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (tenant_id, id)
        )`);
      await client.query(`CREATE INDEX IF NOT EXISTS ${t}_terms ON ${t} USING gin (terms)`);
      await client.query(`CREATE INDEX IF NOT EXISTS ${t}_kb ON ${t} (tenant_id, kb_id) INCLUDE (length)`);
      await client.query(`CREATE INDEX IF NOT EXISTS ${t}_document ON ${t} (tenant_id, document_id)`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async upsert(records: LexicalRecord[]): Promise<void> {
    // the last write of a chunk id wins, as one statement may not touch a row twice
    const latest = new Map<string, LexicalRecord>();
    for (const record of records) latest.set(JSON.stringify([record.tenantId, record.id]), record);
    const unique = [...latest.values()];
    for (let start = 0; start < unique.length; start += UPSERT_BATCH) {
      const batch = unique.slice(start, start + UPSERT_BATCH).map((record) => {
        const frequencies = termFrequencies(analyze(record.text));
        let length = 0;
        for (const tf of frequencies.values()) length += tf;
        return { record, vector: toTsvectorLiteral(frequencies), length: Math.max(1, length) };
      });
      await this.run(
        `INSERT INTO ${this.table} (tenant_id, id, kb_id, document_id, metadata, terms, length)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::tsvector[], $7::int[])
         ON CONFLICT (tenant_id, id) DO UPDATE SET kb_id = excluded.kb_id, document_id = excluded.document_id,
           metadata = excluded.metadata, terms = excluded.terms, length = excluded.length, updated_at = now()`,
        [
          batch.map((row) => row.record.tenantId),
          batch.map((row) => row.record.id),
          batch.map((row) => row.record.kbId),
          batch.map((row) => row.record.documentId),
          batch.map((row) => (row.record.metadata === undefined ? null : JSON.stringify(row.record.metadata))),
          batch.map((row) => row.vector),
          batch.map((row) => row.length),
        ],
      );
    }
  }

  async deleteByDocument(tenantId: string, documentId: string): Promise<void> {
    await this.run(`DELETE FROM ${this.table} WHERE tenant_id = $1 AND document_id = $2`, [tenantId, documentId]);
  }

  async deleteByKnowledgeBase(tenantId: string, kbId: string): Promise<void> {
    await this.run(`DELETE FROM ${this.table} WHERE tenant_id = $1 AND kb_id = $2`, [tenantId, kbId]);
  }

  async search(query: LexicalSearchQuery): Promise<LexicalHit[]> {
    const topK = Math.floor(query.topK);
    if (!(topK > 0) || query.kbIds.length === 0) return [];
    const terms = [...new Set(analyze(query.query))].slice(0, MAX_QUERY_TERMS);
    if (terms.length === 0) return [];
    const params: unknown[] = [query.tenantId, [...new Set(query.kbIds)], terms, toTsqueryLiteral(terms)];
    const filterSql = metadataFilterSql(query.filter, params);
    params.push(this.parameters.k1, this.parameters.b, topK);
    const [k1, b, limit] = [params.length - 2, params.length - 1, params.length];
    const t = this.table;
    // df and the average length cover every chunk of the KBs searched, filtered or not, as in
    // the embedded index; the GIN index answers each term's count
    const { rows } = await this.run<{ id: string; kb_id: string; document_id: string; score: number }>(
      `WITH scope AS (
         SELECT count(*)::float8 AS n, greatest(avg(length), 1)::float8 AS average_length
         FROM ${t} WHERE tenant_id = $1 AND kb_id = ANY($2::text[])
       ), idf AS (
         SELECT term, ln(1 + (scope.n - df.df + 0.5) / (df.df + 0.5)) AS idf
         FROM scope, unnest($3::text[]) AS term,
         LATERAL (SELECT count(*)::float8 AS df FROM ${t}
                  WHERE tenant_id = $1 AND kb_id = ANY($2::text[]) AND terms @@ quote_literal(term)::tsquery) AS df
         WHERE df.df > 0
       ), matched AS (
         SELECT id, kb_id, document_id, length, ts_filter(setweight(terms, 'A', $3::text[]), '{a}') AS hits
         FROM ${t}
         WHERE tenant_id = $1 AND kb_id = ANY($2::text[]) AND terms @@ $4::tsquery${filterSql}
       )
       SELECT m.id, m.kb_id, m.document_id,
              sum(idf.idf * (tf.tf * ($${k1}::float8 + 1))
                  / (tf.tf + $${k1}::float8 * (1 - $${b}::float8 + $${b}::float8 * m.length / scope.average_length))) AS score
       FROM matched m
       CROSS JOIN LATERAL (SELECT lexeme, array_length(positions, 1)::float8 AS tf FROM unnest(m.hits)) AS tf
       JOIN idf ON idf.term = tf.lexeme
       CROSS JOIN scope
       GROUP BY m.id, m.kb_id, m.document_id
       ORDER BY score DESC, m.id
       LIMIT $${limit}`,
      params,
    );
    return rows.map((row) => ({ id: row.id, kbId: row.kb_id, documentId: row.document_id, score: Number(row.score) }));
  }

  async count(filter?: { tenantId: string; kbId?: string }): Promise<number> {
    let sql = `SELECT count(*)::int AS n FROM ${this.table}`;
    const params: string[] = [];
    if (filter) {
      params.push(filter.tenantId);
      sql += ' WHERE tenant_id = $1';
      if (filter.kbId !== undefined) {
        params.push(filter.kbId);
        sql += ' AND kb_id = $2';
      }
    }
    const { rows } = await this.run<{ n: number }>(sql, params);
    return rows[0].n;
  }

  async close(): Promise<void> {
    if (this.ownsPool) {
      this.uncountPool();
      await this.pool.end();
    }
  }
}

/** `'term':1,2,3` per term, positions counting its frequency; quotes and backslashes escaped */
function toTsvectorLiteral(frequencies: ReadonlyMap<string, number>): string {
  const parts: string[] = [];
  for (const [term, tf] of frequencies) {
    const positions = Array.from({ length: Math.min(tf, MAX_POSITIONS) }, (_, i) => i + 1).join(',');
    parts.push(`${quoteLexeme(term)}:${positions}`);
  }
  return parts.join(' ');
}

function toTsqueryLiteral(terms: readonly string[]): string {
  return terms.map(quoteLexeme).join(' | ');
}

function quoteLexeme(term: string): string {
  return `'${term.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/**
 * The filter as SQL over `metadata` with values bound as parameters (appended to `params`).
 * jsonb equality keeps types apart as the embedded matcher does: 2022 never equals "2022".
 */
function metadataFilterSql(filter: MetadataFilter | undefined, params: unknown[]): string {
  if (!filter) return '';
  let sql = '';
  for (const [field, condition] of Object.entries(filter)) {
    params.push(field);
    const key = `$${params.length}`;
    if (typeof condition === 'object' && condition !== null) {
      params.push(condition.in.map((value) => JSON.stringify(value)));
      sql += ` AND metadata -> ${key}::text = ANY($${params.length}::jsonb[])`;
    } else {
      params.push(JSON.stringify(condition));
      sql += ` AND metadata -> ${key}::text = $${params.length}::jsonb`;
    }
  }
  return sql;
}
