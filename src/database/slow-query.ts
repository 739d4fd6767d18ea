import { Logger } from '@nestjs/common';

const slowQueryLogger = new Logger('database');

/** Logs a statement slower than the threshold the way TypeORM's slow-query logger does: statement only, never parameters. */
export function logIfSlow(elapsedMs: number, thresholdMs: number, statement: string): void {
  if (elapsedMs <= thresholdMs) return;
  slowQueryLogger.warn({
    message: 'Slow query detected',
    query_time_ms: Math.round(elapsedMs),
    statement: statement.replace(/\s+/g, ' ').trim().slice(0, 200),
  });
}
