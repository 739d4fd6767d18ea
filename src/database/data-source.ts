import { AsyncLocalStorage } from 'node:async_hooks';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource, type DataSourceOptions, type Logger as TypeOrmLogger, type QueryRunner } from 'typeorm';
import type { DatabaseConfig } from '../config/app-config';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';

export interface SlowQueryLog {
  warn(message: string, fields: Record<string, unknown>): void;
}

/** Logs statements slower than the threshold (the guide's slow-query section); parameters are never logged. */
class SlowQueryLogger implements TypeOrmLogger {
  constructor(private readonly slowLog: SlowQueryLog | undefined) {}
  logQuerySlow(time: number, query: string, _parameters?: unknown[], _runner?: QueryRunner): void {
    this.slowLog?.warn('Slow query detected', { query_time_ms: time, statement: query.slice(0, 200) });
  }
  logQuery(): void {}
  logQueryError(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

export function buildDataSourceOptions(config: DatabaseConfig, slowQueryLog?: SlowQueryLog): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: false,
    synchronize: false,
    maxQueryExecutionTime: config.slowQueryMs,
    logger: new SlowQueryLogger(slowQueryLog),
  };
  if (config.type === 'sqlite') {
    fs.mkdirSync(path.dirname(config.url), { recursive: true });
    return {
      ...common,
      type: 'better-sqlite3',
      database: config.url,
      enableWAL: true,
      prepareDatabase: (db: { pragma(sql: string): unknown }) => {
        db.pragma('busy_timeout = 5000');
        db.pragma('synchronous = NORMAL');
        db.pragma('foreign_keys = ON');
      },
    };
  }
  return {
    ...common,
    type: 'postgres',
    url: config.url,
    poolSize: config.poolSize,
    extra: { connectionTimeoutMillis: 5000, idleTimeoutMillis: 30000, statement_timeout: 30000 },
  };
}

export function createDataSource(config: DatabaseConfig, slowQueryLog?: SlowQueryLog): DataSource {
  const dataSource = new DataSource(buildDataSourceOptions(config, slowQueryLog));
  if (config.type === 'sqlite') serializeTransactions(dataSource);
  return dataSource;
}

/**
 * SQLite has one connection, and TypeORM runs a transaction begun while another one is open as a
 * savepoint inside it: two concurrent transactions (two ingestion runs finishing at once) release,
 * commit or roll back each other's work, and jobs end up neither finished nor failed. On SQLite
 * transactions therefore take turns. No transaction of this service opens another one.
 *
 * A statement outside any transaction, sent while another flow's transaction is open, would run
 * inside it too, and be rolled back with it: a knowledge-base delete made while an upload's
 * transaction was open came back when that upload failed (its KB was gone) and rolled back. So a
 * statement from outside the open transaction waits for its turn as well.
 */
function serializeTransactions(dataSource: DataSource): void {
  const manager = dataSource.manager;
  const transaction = manager.transaction.bind(manager) as (...args: unknown[]) => Promise<unknown>;
  const insideTransaction = new AsyncLocalStorage<true>();
  let tail: Promise<unknown> = Promise.resolve();
  let open = 0;
  manager.transaction = (...args: unknown[]) => {
    const turn = tail.then(async () => {
      open += 1;
      try {
        return await insideTransaction.run(true, () => transaction(...args));
      } finally {
        open -= 1;
      }
    });
    tail = turn.catch(() => undefined);
    return turn;
  };

  const patched = new WeakSet<QueryRunner>();
  const driver = dataSource.driver as unknown as { createQueryRunner(mode: string): QueryRunner };
  const createQueryRunner = driver.createQueryRunner.bind(driver);
  driver.createQueryRunner = (mode: string) => {
    const runner = createQueryRunner(mode);
    if (!patched.has(runner)) {
      patched.add(runner);
      const query = runner.query.bind(runner) as (...args: unknown[]) => Promise<unknown>;
      runner.query = ((...args: unknown[]) =>
        open > 0 && !insideTransaction.getStore() ? tail.then(() => query(...args)) : query(...args)) as typeof runner.query;
    }
    return runner;
  };
}

interface CountedPool {
  totalCount: number;
  idleCount: number;
}

/** database pools outside TypeORM's (the Postgres lexical index's own), counted in the gauges too */
const otherPools = new Set<CountedPool>();

/** Counts a pool in database_connections_*; call the returned function when the pool ends. */
export function countConnectionPool(pool: CountedPool): () => void {
  otherPools.add(pool);
  return () => otherPools.delete(pool);
}

/** Pool figures for the database_connections_* gauges. SQLite has one connection, always busy-or-idle. */
export function connectionPoolStats(dataSource: DataSource): { active: number; idle: number } {
  let active = 0;
  let idle = 0;
  for (const pool of otherPools) {
    active += pool.totalCount - pool.idleCount;
    idle += pool.idleCount;
  }
  if (!dataSource.isInitialized) return { active, idle };
  const driver = dataSource.driver as unknown as { master?: CountedPool };
  const pool = driver.master;
  if (pool && typeof pool.totalCount === 'number') {
    return { active: active + pool.totalCount - pool.idleCount, idle: idle + pool.idleCount };
  }
  return { active, idle: idle + 1 };
}
