import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { extname, join } from 'node:path';
import { ServiceUnavailableError } from '../common/errors';
import { PortThread } from '../common/port-thread';
import { logIfSlow } from './slow-query';
import { parseJsonColumns, StatementCache } from './sqlite-reader';
import { DataSource, QueryFailedError, type EntityTarget, type ObjectLiteral } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';

interface PreparedStatement {
  all(...parameters: unknown[]): unknown[];
}
interface SqliteConnection {
  prepare(sql: string): PreparedStatement;
}

interface Template {
  /** the text between parameters: one more than `names` */
  parts: string[];
  names: Array<{ name: string; spread: boolean }>;
}

const NAMED_PARAMETER = /:(\.\.\.)?([A-Za-z0-9_]+)/g;

function parseTemplate(sql: string): Template {
  const parts: string[] = [];
  const names: Template['names'] = [];
  let last = 0;
  for (const match of sql.matchAll(NAMED_PARAMETER)) {
    parts.push(sql.slice(last, match.index));
    names.push({ name: match[2], spread: match[1] !== undefined });
    last = match.index + match[0].length;
  }
  parts.push(sql.slice(last));
  return { parts, names };
}

// strings only: TypeORM writes numbers into the SQL as literals, while a bound JS number is a REAL
// to SQLite, which compares differently with a TEXT column
function isPlainValue(value: unknown): value is string {
  return typeof value === 'string';
}

/**
 * Reads on the path of every request (the presented API key, the KBs searched, the chunks a
 * search returned). On SQLite they run as statements prepared once on the connection, skipping
 * TypeORM's query builder and query runner: a chunk lookup went from 179 to ~60 µs, a key lookup
 * from 76 to ~20 µs. On Postgres they go through TypeORM's pool, where the network dominates.
 * Slow statements are logged exactly like TypeORM's (SLOW_QUERY_MS, statement only).
 */
@Injectable()
export class HotReads implements OnApplicationShutdown {
  /** each statement's text split around its named parameters */
  private readonly templates = new Map<string, Template>();
  /** statements prepared on the main connection (TypeORM's; a new one after a reconnect) */
  private statements: StatementCache<PreparedStatement> | undefined;
  private readonly slowQueryMs: number;
  /** the SQLite reader thread, when reads leave the event loop */
  private readonly reader: PortThread | undefined;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.slowQueryMs = config.database.slowQueryMs;
    const file = config.database.type === 'sqlite' ? config.database.url : '';
    if (config.embeddedThreads && file !== '' && file !== ':memory:') {
      this.reader = new PortThread({
        modulePath: join(__dirname, `sqlite-reader${extname(__filename)}`),
        exportName: 'SqliteReader',
        argument: { file },
        name: 'SQLite reader',
      });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.reader?.close();
  }

  /**
   * Rows of a statement with `:name` / `(:...list)` parameters, columns as the database names them.
   * Columns listed in `jsonColumns` arrive parsed when they hold JSON text (on SQLite, by the
   * reader thread, off the event loop).
   */
  async rows(sql: string, parameters: ObjectLiteral, jsonColumns: readonly string[] = []): Promise<Array<Record<string, unknown>>> {
    const connection = this.sqliteConnection();
    if (!connection) {
      const [text, values] = this.dataSource.driver.escapeQueryWithParameters(sql, parameters, {});
      const rows: Array<Record<string, unknown>> = await this.dataSource.query(text, values);
      parseJsonColumns(rows, jsonColumns);
      return rows;
    }
    const [text, values] = this.sqliteStatement(sql, parameters);
    if (this.reader) {
      try {
        const { rows, elapsedMs } = await this.reader.call<{ rows: Array<Record<string, unknown>>; elapsedMs: number }>(
          'rows',
          text,
          values,
          jsonColumns,
        );
        logIfSlow(elapsedMs, this.slowQueryMs, text);
        return rows;
      } catch (error) {
        // the thread is down (it restarts on a later call): this read runs on the main connection
        if (!(error instanceof ServiceUnavailableError)) throw new QueryFailedError(text, values, error as Error);
      }
    }
    const started = performance.now();
    let rows: Array<Record<string, unknown>>;
    try {
      rows = this.prepared(connection, text).all(...values) as Array<Record<string, unknown>>;
    } catch (error) {
      throw new QueryFailedError(text, values, error as Error);
    }
    const elapsed = performance.now() - started;
    logIfSlow(elapsed, this.slowQueryMs, text);
    parseJsonColumns(rows, jsonColumns);
    return rows;
  }

  /** Entities from a statement selecting all of their columns, hydrated as TypeORM would. */
  async entities<T extends ObjectLiteral>(target: EntityTarget<T>, sql: string, parameters: ObjectLiteral): Promise<T[]> {
    const metadata = this.dataSource.getMetadata(target);
    const driver = this.dataSource.driver;
    return (await this.rows(sql, parameters)).map((row) => {
      const entity = metadata.create() as T;
      for (const column of metadata.columns) {
        (entity as Record<string, unknown>)[column.propertyName] = driver.prepareHydratedValue(row[column.databaseName], column);
      }
      return entity;
    });
  }

  /**
   * `:name` and `(:...list)` to positional `?`, as TypeORM's SQLite driver does, for the strings
   * these reads take; any other value (numbers included) goes through TypeORM's escaping.
   */
  private sqliteStatement(sql: string, parameters: ObjectLiteral): [string, unknown[]] {
    let template = this.templates.get(sql);
    if (!template) {
      template = parseTemplate(sql);
      this.templates.set(sql, template);
    }
    const values: unknown[] = [];
    let text = template.parts[0];
    for (let i = 0; i < template.names.length; i++) {
      const { name, spread } = template.names[i];
      const value: unknown = parameters[name];
      if (spread && Array.isArray(value) && value.length > 0 && value.every(isPlainValue)) {
        values.push(...value);
        text += `?${', ?'.repeat(value.length - 1)}`;
      } else if (!spread && isPlainValue(value)) {
        values.push(value);
        text += '?';
      } else {
        return this.dataSource.driver.escapeQueryWithParameters(sql, parameters, {});
      }
      text += template.parts[i + 1];
    }
    return [text, values];
  }

  private sqliteConnection(): SqliteConnection | undefined {
    if (this.dataSource.options.type !== 'better-sqlite3') return undefined;
    return (this.dataSource.driver as unknown as { databaseConnection?: SqliteConnection }).databaseConnection;
  }

  private prepared(connection: SqliteConnection, text: string): PreparedStatement {
    if (this.statements?.connection !== connection) this.statements = new StatementCache(connection);
    return this.statements.get(text);
  }
}
