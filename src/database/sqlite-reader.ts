import Database from 'better-sqlite3';

/** distinct statements kept prepared (IN lists of different lengths are different statements) */
const STATEMENT_CACHE_SIZE = 256;

/**
 * A second, query-only connection to the service's SQLite file, hosted on a worker thread
 * (`PortThread`) by `HotReads`: the reads on the path of every request (API key, KBs, the chunks
 * a search returned) run there instead of on the event loop. WAL lets it read beside the main
 * connection's writes; each statement sees everything committed before it started.
 */
export class SqliteReader {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(options: { file: string }) {
    this.db = new Database(options.file, { fileMustExist: true });
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('query_only = 1');
  }

  /** the rows of one statement with positional parameters, and how long it took (ms) */
  rows(sql: string, values: unknown[]): { rows: unknown[]; elapsedMs: number } {
    const started = performance.now();
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= STATEMENT_CACHE_SIZE) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    const rows = statement.all(...values);
    return { rows, elapsedMs: performance.now() - started };
  }

  close(): void {
    this.db.close();
  }
}
