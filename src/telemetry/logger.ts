import { trace } from '@opentelemetry/api';
import type { LoggerService } from '@nestjs/common';
import * as winston from 'winston';
import { currentRequestContext } from '../common/request-context';
import { redact, redactString } from './redact';

/**
 * One JSON object a line with the guide's fields (timestamp, level, logger, message, request_id,
 * tenant_id, user_id, duration_ms, exception) plus trace_id and span_id of the active span.
 */
const guideFields = winston.format((info) => {
  const context = currentRequestContext();
  const span = trace.getActiveSpan()?.spanContext();
  const { level, message, logger, exception, ...rest } = info as Record<string, unknown> & { exception?: string | Error };
  const record: Record<string, unknown> = {
    timestamp: new Date().toISOString(),
    level: String(level).toUpperCase(),
    logger: logger ?? 'app',
    message: typeof message === 'string' ? redactString(message) : message,
  };
  const requestId = rest.request_id ?? context?.requestId;
  const tenantId = rest.tenant_id ?? context?.tenantId;
  const userId = rest.user_id ?? context?.userId;
  if (requestId) record.request_id = requestId;
  if (tenantId) record.tenant_id = tenantId;
  if (userId) record.user_id = userId;
  if (span && span.traceFlags !== undefined && span.traceId !== '00000000000000000000000000000000') {
    record.trace_id = span.traceId;
    record.span_id = span.spanId;
  }
  if (exception) record.exception = redactString(String(exception));
  for (const [key, value] of Object.entries(rest)) {
    if (!(key in record) && key !== 'request_id' && key !== 'tenant_id' && key !== 'user_id') {
      record[key] = value;
    }
  }
  const safe = redact(record) as Record<string, unknown>;
  // other transports (OpenTelemetry's, which exports the record over OTLP) read `info` itself:
  // it gets the same redacted fields and request/tenant/user ids as the printed line
  for (const [key, value] of Object.entries(safe)) {
    if (!INFO_KEEPS_OWN.has(key)) (info as Record<string, unknown>)[key] = value;
  }
  return Object.assign(info, { [Symbol.for('message')]: JSON.stringify(safe) });
});

/** winston's own level name stays on `info` (transports filter on it); trace ids come from the context */
const INFO_KEEPS_OWN = new Set(['level', 'timestamp', 'trace_id', 'span_id']);

export function createWinstonLogger(level: string, extraTransports: winston.transport[] = []): winston.Logger {
  return winston.createLogger({
    level,
    format: guideFields(),
    transports: [new winston.transports.Console(), ...extraTransports],
  });
}

/** Nest's logger interface over winston, so framework logs come out in the same JSON shape. */
export class WinstonNestLogger implements LoggerService {
  constructor(private readonly winstonLogger: winston.Logger) {}

  log(message: unknown, context?: string): void {
    this.write('info', message, context);
  }
  error(message: unknown, stack?: string, context?: string): void {
    this.write('error', message, context, stack);
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.write('verbose', message, context);
  }

  private write(level: string, message: unknown, context?: string, stack?: string): void {
    // winston formats every message before its transports drop the levels they do not take
    if (!this.winstonLogger.isLevelEnabled(level)) return;
    const fields =
      typeof message === 'object' && message !== null
        ? (message as Record<string, unknown> & { message?: string })
        : { message: String(message) };
    this.winstonLogger.log({
      level,
      logger: context ?? 'app',
      ...fields,
      ...(stack && { exception: stack }),
      message: String(fields.message ?? ''),
    });
  }
}
