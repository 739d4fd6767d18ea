import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PortThread } from '../../../src/common/port-thread';

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
    const reader = new PortThread({ modulePath: resolve(__dirname, '../../../src/database/sqlite-reader.ts'), exportName: 'SqliteReader', argument: { file }, name: 'SQLite reader' });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => void main.close(), () => reader.close());

    const read = async () => (await reader.call<{ rows: unknown[] }>('rows', 'SELECT id, revoked FROM api_keys WHERE id = ?', ['k1'])).rows;
    expect(await read()).toEqual([{ id: 'k1', revoked: 0 }]);
    // a revocation committed on the main connection holds for the very next read
    main.prepare('UPDATE api_keys SET revoked = 1 WHERE id = ?').run('k1');
    expect(await read()).toEqual([{ id: 'k1', revoked: 1 }]);
    await expect(reader.call('rows', 'DELETE FROM api_keys RETURNING id', [])).rejects.toThrow(/readonly|read-only|query_only|attempt to write/i);
    expect(main.prepare('SELECT count(*) AS n FROM api_keys').get()).toEqual({ n: 1 });
  });
});
