import { loadConfig, ConfigError } from '../config/app-config';
import { createDataSource } from './data-source';

/** `npm run migrate`: applies pending migrations and exits (the Helm chart runs it as a Job). */
async function main(): Promise<void> {
  const config = loadConfig();
  const dataSource = createDataSource(config.database);
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    process.stdout.write(
      `${JSON.stringify({ timestamp: new Date().toISOString(), level: 'info', logger: 'migrate', message: `applied ${applied.length} migration(s)`, migrations: applied.map((m) => m.name) })}\n`,
    );
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.message : `migration failed: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
