import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { PortThread } from '../../../src/common/port-thread';
import type { AppConfig } from '../../../src/config/app-config';
import { HotReads } from '../../../src/database/hot-reads';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('SqliteReader on its thread', () => {
  it('sees every commit of the main connection at once, and refuses to write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sqlite-reader-'));
    const file = join(dir, 'db.sqlite');
    const main = new Database(file);
    main.pragma('journal_mode = WAL');
    main.exec('CREATE TABLE api_keys (id TEXT PRIMARY KEY, revoked INTEGER NOT NULL)');
    main.prepare('INSERT INTO api_keys VALUES (?, 0)').run('k1');
    const reader = new PortThread({
      modulePath: resolve(__dirname, '../../../src/database/sqlite-reader.ts'),
      exportName: 'SqliteReader',
      argument: { file },
      name: 'SQLite reader',
    });
    cleanups.push(
      () => rmSync(dir, { recursive: true, force: true }),
      () => void main.close(),
      () => reader.close(),
    );

    const read = async () => (await reader.call<{ rows: unknown[] }>('rows', 'SELECT id, revoked FROM api_keys WHERE id = ?', ['k1'])).rows;
    expect(await read()).toEqual([{ id: 'k1', revoked: 0 }]);
    // a revocation committed on the main connection holds for the very next read
    main.prepare('UPDATE api_keys SET revoked = 1 WHERE id = ?').run('k1');
    expect(await read()).toEqual([{ id: 'k1', revoked: 1 }]);
    await expect(reader.call('rows', 'DELETE FROM api_keys RETURNING id', [])).rejects.toThrow(
      /readonly|read-only|query_only|attempt to write/i,
    );
    expect(main.prepare('SELECT count(*) AS n FROM api_keys').get()).toEqual({ n: 1 });
  });
});

describe('HotReads on SQLite', () => {
  async function setup(embeddedThreads: boolean) {
    const dir = mkdtempSync(join(tmpdir(), 'hot-reads-'));
    const file = join(dir, 'db.sqlite');
    const dataSource = new DataSource({
      type: 'better-sqlite3',
      database: file,
      prepareDatabase: (db: Database.Database) => void db.pragma('journal_mode = WAL'),
    });
    await dataSource.initialize();
    await dataSource.query(
      'CREATE TABLE chunks (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, position INTEGER NOT NULL, meta TEXT NOT NULL)',
    );
    for (const [id, tenant, position, meta] of [
      ['a', 't1', 0, '{"lang":"en"}'],
      ['b', 't1', 1, 'not json'],
      ['c', 't2', 2, '[1,2]'],
      ['d', 't3', 3, '5'],
    ] as const) {
      await dataSource.query('INSERT INTO chunks VALUES (?, ?, ?, ?)', [id, tenant, position, meta]);
    }
    const config = { database: { type: 'sqlite', url: file, slowQueryMs: 1000 }, embeddedThreads } as unknown as AppConfig;
    const hotReads = new HotReads(dataSource, config);
    cleanups.push(
      () => rmSync(dir, { recursive: true, force: true }),
      () => dataSource.destroy(),
      () => hotReads.onApplicationShutdown(),
    );
    return hotReads;
  }

  it.each([true, false])('binds named and list parameters and parses JSON columns (reader thread: %s)', async (embeddedThreads) => {
    const hotReads = await setup(embeddedThreads);
    const sql = 'SELECT id, position, meta FROM chunks WHERE tenant_id = :tenantId AND id IN (:...ids) AND position >= :from ORDER BY id';
    const rows = await hotReads.rows(sql, { tenantId: 't1', ids: ['a', 'b', 'c'], from: 0 }, ['meta']);
    expect(rows.map((row) => [row.id, row.position, row.meta])).toEqual([
      ['a', 0, { lang: 'en' }],
      ['b', 1, 'not json'],
    ]);
    // another list length is another statement; a colon inside a value is data, not a parameter
    expect((await hotReads.rows(sql, { tenantId: 't2', ids: ['c'], from: 1 })).map((row) => row.id)).toEqual(['c']);
    expect(await hotReads.rows(sql, { tenantId: ':ids', ids: ['a'], from: 0 })).toEqual([]);
    // values the fast path does not bind go through TypeORM's escaping: a number compares with a
    // TEXT column as TypeORM's literal does (a bound JS number would be a REAL and match nothing)
    await hotReads.rows('SELECT id FROM chunks WHERE id = :id', { id: 'a' });
    expect(await hotReads.rows('SELECT id FROM chunks WHERE meta = :meta', { meta: 5 })).toEqual([{ id: 'd' }]);
    expect(
      (await hotReads.rows('SELECT id FROM chunks WHERE (position > 0) = :later ORDER BY id', { later: true })).map((row) => row.id),
    ).toEqual(['b', 'c', 'd']);
  });
});
