import type { EntityManager } from 'typeorm';

/** Rows per multi-row INSERT: under SQLite's and PostgreSQL's bound-parameter limits. */
export const INSERT_BATCH = 400;

export function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Postgres: locks the documents' rows in id order (two transactions locking overlapping sets never deadlock on them). */
export async function lockDocuments(manager: EntityManager, ids: string[]): Promise<void> {
  if (manager.connection.options.type !== 'postgres' || ids.length === 0) return;
  await manager.query(`SELECT id FROM documents WHERE id = ANY($1) ORDER BY id FOR UPDATE`, [ids]);
}
