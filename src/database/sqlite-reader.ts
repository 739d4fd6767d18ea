import Database from 'better-sqlite3';
import { readStoredJson } from './stored-json';

/** distinct statements kept prepared (IN lists of different lengths are different statements) */
const STATEMENT_CACHE_SIZE = 256;

interface Preparing<S> {
  prepare(sql: string): S;
}

/** Statements prepared once per connection and text, at most STATEMENT_CACHE_SIZE of them. */
export class StatementCache<S> {
  private readonly statements = new Map<string, S>();

  constructor(readonly connection: Preparing<S>) {}

  get(sql: string): S {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= STATEMENT_CACHE_SIZE) this.statements.clear();
      statement = this.connection.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/**
 * A second, query-only connection to the service's SQLite file, hosted on a worker thread
 * (`PortThread`) by `HotReads`: the reads on the path of every request (API key, KBs, the chunks
 * a search returned) run there instead of on the event loop. WAL lets it read beside the main
 * connection's writes; each statement sees everything committed before it started.
 */
export class SqliteReader {
  private readonly db: Database.Database;
  private readonly statements: StatementCache<Database.Statement>;

  constructor(options: { file: string }) {
    this.db = new Database(options.file, { fileMustExist: true });
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('query_only = 1');
    this.statements = new StatementCache(this.db);
  }

  /**
   * The rows of one statement with positional parameters, and how long it took (ms). Columns named
   * in `jsonColumns` arrive parsed (left as text when they are not JSON), sparing the event loop.
   */
  rows(sql: string, values: unknown[], jsonColumns: readonly string[] = []): { rows: unknown[]; elapsedMs: number } {
    const started = performance.now();
    const rows = this.statements.get(sql).all(...values) as Array<Record<string, unknown>>;
    parseJsonColumns(rows, jsonColumns);
    return { rows, elapsedMs: performance.now() - started };
  }

  close(): void {
    this.db.close();
  }
}

/** Parses the named text columns of each row in place; text that is not JSON stays text, JSON deeper than MAX_READ_JSON_DEPTH is null. */
export function parseJsonColumns(rows: Array<Record<string, unknown>>, columns: readonly string[]): void {
  if (columns.length === 0) return;
  for (const row of rows) {
    for (const column of columns) {
      const value = row[column];
      if (typeof value !== 'string') continue;
      try {
        row[column] = readStoredJson(value, null);
      } catch {
        // not JSON: the caller sees the text
      }
    }
  }
}
