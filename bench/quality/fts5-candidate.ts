import Database from 'better-sqlite3';
import { analyze } from '../../src/text/analyzer';

/**
 * The alternative measured against EmbeddedLexicalIndex: SQLite FTS5 over the same pre-analyzed
 * terms (space-joined, so FTS5's unicode61 tokenizer only splits on the spaces), ranked by FTS5's
 * bm25() (k1 1.2, b 0.75 fixed), tenant and KB as UNINDEXED columns filtered after the match.
 * Bench-only: kept to re-run the comparison.
 */
export class Fts5Candidate {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;

  constructor(path = ':memory:') {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS chunks USING fts5(
      terms, tenant_id UNINDEXED, kb_id UNINDEXED, chunk_id UNINDEXED,
      tokenize = "unicode61 remove_diacritics 0 categories 'L* N* Co M*'")`);
    this.insert = this.db.prepare('INSERT INTO chunks (terms, tenant_id, kb_id, chunk_id) VALUES (?, ?, ?, ?)');
  }

  upsert(records: { id: string; tenantId: string; kbId: string; text: string }[]): void {
    this.db.transaction(() => {
      for (const record of records) this.insert.run(analyze(record.text).join(' '), record.tenantId, record.kbId, record.id);
    })();
  }

  search(tenantId: string, kbIds: string[], query: string, topK: number): { id: string; score: number }[] {
    const terms = [...new Set(analyze(query))];
    if (terms.length === 0 || kbIds.length === 0) return [];
    // every term quoted: FTS5 query syntax in the user's text is never interpreted
    const match = terms.map((term) => `"${term.replaceAll('"', '""')}"`).join(' OR ');
    const rows = this.db
      .prepare(
        `SELECT chunk_id AS id, -bm25(chunks) AS score FROM chunks
         WHERE chunks MATCH ? AND tenant_id = ? AND kb_id IN (${kbIds.map(() => '?').join(',')})
         ORDER BY bm25(chunks) LIMIT ?`,
      )
      .all(match, tenantId, ...kbIds, topK) as { id: string; score: number }[];
    return rows;
  }

  close(): void {
    this.db.close();
  }
}
