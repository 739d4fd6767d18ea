import { startPostgres, type PostgresServer } from './postgres-server';

/** The e2e suites run once per relational store: embedded SQLite and a real private PostgreSQL. */
export const DATABASES = ['sqlite', 'postgres'] as const;
export type DatabaseKind = (typeof DATABASES)[number];

export interface DatabaseHandle {
  env: Record<string, string>;
  postgres?: PostgresServer;
  stop(): Promise<void>;
}

export async function startDatabase(kind: DatabaseKind): Promise<DatabaseHandle> {
  if (kind === 'sqlite') return { env: {}, stop: async () => {} };
  const postgres = await startPostgres();
  return { env: { DATABASE_URL: postgres.url }, postgres, stop: () => postgres.stop() };
}
