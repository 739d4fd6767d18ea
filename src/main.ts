import { ConfigError, loadConfig, type AppConfig } from './config/app-config';
import { ensureAdminKeyFile } from './config/admin-key';
import { createApp } from './app.factory';
import { drainHttpServer, trackConnections } from './common/draining';
import { createWinstonLogger, WinstonNestLogger } from './telemetry/logger';
import { closeMetricsServer, listeningPort, startMetricsServer } from './telemetry/metrics-server';
import { shutdownTelemetry } from './telemetry/sdk';

async function bootstrap(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const winstonLogger = createWinstonLogger(config.logLevel);
  const logger = new WinstonNestLogger(winstonLogger);

  if (!config.adminApiKey) {
    const admin = ensureAdminKeyFile(config.dataDir);
    config.adminApiKey = admin.key;
    logger.log(
      { message: admin.created ? 'generated the platform admin key' : 'using the platform admin key file', file: admin.file },
      'bootstrap',
    );
  }

  const app = await createApp(config, { logger, workersAfterListen: true });
  const server = app.getHttpServer();
  server.keepAliveTimeout = 65_000;
  // every role (workers too) serves its own metrics, on a port of its own; up before /health answers
  const metricsServer = await startMetricsServer(config.metricsPort, config.host);
  logger.log({ message: 'metrics listening', port: listeningPort(metricsServer), path: '/metrics' }, 'bootstrap');
  trackConnections(server);
  await app.listen(config.port, config.host);
  logger.log({ message: 'listening', port: config.port, role: config.role, database: config.database.type }, 'bootstrap');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log({ message: 'shutting down', signal }, 'bootstrap');
    const deadline = setTimeout(() => {
      logger.warn({ message: 'in-flight work did not finish within SHUTDOWN_TIMEOUT_MS; exiting' }, 'bootstrap');
      process.exit(0);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    try {
      // stop accepting, let in-flight requests finish, then close modules (workers, database)
      await drainHttpServer(server);
      await app.close();
      await closeMetricsServer(metricsServer);
      await shutdownTelemetry();
      process.exit(0);
    } catch (error) {
      logger.error({ message: 'error during shutdown', exception: (error as Error).stack }, undefined, 'bootstrap');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

void bootstrap().catch((error: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ timestamp: new Date().toISOString(), level: 'ERROR', logger: 'bootstrap', message: 'failed to start', exception: (error as Error)?.stack ?? String(error) })}\n`,
  );
  process.exit(1);
});
