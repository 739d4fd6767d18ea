import Transport from 'winston-transport';
import { describe, expect, it } from 'vitest';
import { requestContext } from '../../../src/common/request-context';
import { createWinstonLogger, WinstonNestLogger } from '../../../src/telemetry/logger';

/** stands where OpenTelemetry's winston transport sits: it exports `info` itself, not the printed line */
class CapturingTransport extends Transport {
  readonly records: Array<Record<string, unknown>> = [];
  override log(info: Record<string, unknown>, done: () => void): void {
    this.records.push({ ...info });
    done();
  }
}

describe('winston records seen by other transports', () => {
  it('carry the redacted fields and the request, tenant and user ids of the printed line', () => {
    const capture = new CapturingTransport();
    const logger = createWinstonLogger('info', [capture]);
    const key = `srk_0123456789ab_${'C'.repeat(43)}`;
    requestContext.run({ requestId: 'req-1', tenantId: 'tenant-1', userId: 'key-1' }, () => {
      logger.log({
        level: 'warn',
        logger: 'test',
        message: `refused ${key}`,
        authorization: `Bearer ${key}`,
        exception: `Error at postgres://u:hunter2@db/x`,
      });
    });
    const [record] = capture.records;
    expect(record).toMatchObject({
      level: 'warn',
      logger: 'test',
      request_id: 'req-1',
      tenant_id: 'tenant-1',
      user_id: 'key-1',
      authorization: '[REDACTED]',
    });
    expect(JSON.stringify(record)).not.toContain(key);
    expect(JSON.stringify(record)).not.toContain('hunter2');
    expect(String(record.message)).toContain('refused srk_[REDACTED]');
  });
});

describe('WinstonNestLogger', () => {
  it('hands winston only the levels some transport takes, and those in full', () => {
    const capture = new CapturingTransport();
    const winstonLogger = createWinstonLogger('warn', [capture]);
    const formatted: string[] = [];
    const original = winstonLogger.log.bind(winstonLogger);
    winstonLogger.log = ((entry: { level: string }) => {
      formatted.push(entry.level);
      return original(entry as never);
    }) as unknown as typeof winstonLogger.log;
    const logger = new WinstonNestLogger(winstonLogger);
    logger.log({ message: 'GET /v1/x 200', status_code: 200 }, 'http.access');
    logger.debug('details');
    logger.warn('slow query', 'database');
    logger.error('boom', 'Error: boom\n    at here', 'app');
    expect(formatted).toEqual(['warn', 'error']);
    expect(capture.records.map((r) => [r.level, r.logger, r.message])).toEqual([
      ['warn', 'database', 'slow query'],
      ['error', 'app', 'boom'],
    ]);
    expect(capture.records[1].exception).toContain('Error: boom');
  });
});
