import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { extname, join } from 'node:path';
import { ServiceUnavailableError } from '../common/errors';
import { PortThread } from '../common/port-thread';
import { logIfSlow } from './slow-query';
import { DataSource, QueryFailedError, type EntityTarget, type ObjectLiteral } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';

interface PreparedStatement {
  all(...parameters: unknown[]): unknown[];
}
interface SqliteConnection {
  prepare(sql: string): PreparedStatement;
}

/** distinct statements kept prepared (IN lists of different lengths are different statements) */
const STATEMENT_CACHE_SIZE = 256;


/**
 * Reads on the path of every request (the presented API key, the KBs searched, the chunks a
 * search returned). On SQLite they run as statements prepared once on the connection, skipping
 * TypeORM's query builder and query runner: a chunk lookup went from 179 to ~60 µs, a key lookup
 * from 76 to ~20 µs. On Postgres they go through TypeORM's pool, where the network dominates.
 * Slow statements are logged exactly like TypeORM's (SLOW_QUERY_MS, statement only).
 */
@Injectable()
export class HotReads {
  private readonly statements = new Map<string, PreparedStatement>();
  /** the connection the cached statements belong to */
  private preparedOn: SqliteConnection | undefined;
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

  /** Rows of a statement with `:name` / `(:...list)` parameters, columns as the database names them. */
  async rows(sql: string, parameters: ObjectLiteral): Promise<Array<Record<string, unknown>>> {
    const [text, values] = this.dataSource.driver.escapeQueryWithParameters(sql, parameters, {});
    const connection = this.sqliteConnection();
    if (!connection) return this.dataSource.query(text, values);
    if (this.reader) {
      try {
        const { rows, elapsedMs } = await this.reader.call<{ rows: Array<Record<string, unknown>>; elapsedMs: number }>('rows', text, values);
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

  private sqliteConnection(): SqliteConnection | undefined {
    if (this.dataSource.options.type !== 'better-sqlite3') return undefined;
    return (this.dataSource.driver as unknown as { databaseConnection?: SqliteConnection }).databaseConnection;
  }

  private prepared(connection: SqliteConnection, text: string): PreparedStatement {
    if (this.preparedOn !== connection) {
      this.statements.clear();
      this.preparedOn = connection;
    }
    let statement = this.statements.get(text);
    if (!statement) {
      if (this.statements.size >= STATEMENT_CACHE_SIZE) this.statements.clear();
      statement = connection.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }
}
