import { ArgumentsHost, Catch, HttpException, Logger, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppError } from './errors';
import { PROBLEM_TYPE_BASE, sendProblem, type ProblemDocument } from './problem';
import { currentRequestContext } from './request-context';
import { redactPath, truncate } from './safe-echo';

const HTTP_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** the longest `detail`: messages can quote the caller's input */
const MAX_DETAIL_CHARS = 1000;

/**
 * Turns any thrown value into an RFC 9457 problem document; the only place error bodies are made.
 * `instance` is the request path: segments that are neither ids nor route words are redacted,
 * so a key pasted into a URL is not sent back.
 */
export function toProblem(error: unknown, path: string): { problem: ProblemDocument; headers: Record<string, string> } {
  const { problem, headers } = buildProblem(error, redactPath(path));
  problem.detail = truncate(problem.detail, MAX_DETAIL_CHARS);
  return { problem, headers };
}

function buildProblem(error: unknown, instance: string): { problem: ProblemDocument; headers: Record<string, string> } {
  const requestId = currentRequestContext()?.requestId;
  if (error instanceof AppError) {
    return {
      problem: {
        type: `${PROBLEM_TYPE_BASE}${error.code}`,
        title: error.title,
        status: error.status,
        detail: error.message,
        instance,
        request_id: requestId,
        ...error.extensions,
      },
      headers: error.headers,
    };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const response = error.getResponse();
    const message =
      typeof response === 'string' ? response : String((response as { message?: string | string[] }).message ?? error.message);
    // Express's "Cannot GET /path" for an unknown route repeats the path: redact it as `instance` is
    const detail = message.replace(/^(Cannot \w+ )(\S*)$/, (_, verb: string, route: string) => `${verb}${redactPath(route)}`);
    return {
      problem: {
        type: `${PROBLEM_TYPE_BASE}${status === 404 ? 'not-found' : `http-${status}`}`,
        title: HTTP_TITLES[status] ?? 'Error',
        status,
        detail,
        instance,
        request_id: requestId,
      },
      headers: {},
    };
  }
  const unavailable = unavailableDependency(error);
  if (unavailable) {
    return {
      problem: {
        type: `${PROBLEM_TYPE_BASE}dependency-failed`,
        title: 'Service Unavailable',
        status: 503,
        detail: `${unavailable.dependency}: ${unavailable.reason}; try again shortly`,
        instance,
        request_id: requestId,
        dependency: unavailable.dependency,
        failure: 'unavailable',
      },
      headers: { 'Retry-After': '2' },
    };
  }
  const bodyParserError = asBodyParserError(error);
  if (bodyParserError) {
    return { problem: { ...bodyParserError, instance, request_id: requestId } as ProblemDocument, headers: {} };
  }
  return {
    problem: {
      type: `${PROBLEM_TYPE_BASE}internal`,
      title: 'Internal Server Error',
      status: 500,
      detail: 'an unexpected error occurred; the request id identifies it in the logs',
      instance,
      request_id: requestId,
    },
    headers: {},
  };
}

/** Socket errors of a driver connection: pg and ioredis connect over raw sockets (provider calls are DependencyErrors already). */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const DATABASE_GONE =
  /Connection terminated|terminating connection|the database system is (shutting down|starting up|not yet accepting connections|in recovery mode)|Query runner already released|timeout exceeded when trying to connect|Cannot use a pool after calling end|Connection is not established/i;
const REDIS_GONE = /^(Connection is closed|Stream isn't writeable|Reached the max retries per request limit)/;

/**
 * A database or Redis connection failure that escaped as a driver error (TypeORM
 * QueryFailedError, pg, ioredis): a 503 naming the dependency, never a 500. SQLSTATE class 08
 * (connection exception), 57P01-57P03 (shutdown, cannot connect now) and 53300 (too many
 * connections) are the database's; bare socket errors are the database driver's (pg).
 */
export function unavailableDependency(error: unknown): { dependency: 'database' | 'redis'; reason: string } | undefined {
  const e = error as {
    name?: string;
    message?: string;
    code?: string | number;
    syscall?: unknown;
    driverError?: { code?: string | number; message?: string; syscall?: unknown };
  };
  if (!e || typeof e !== 'object') return undefined;
  const message = String(e.message ?? '');
  if (e.name === 'MaxRetriesPerRequestError' || REDIS_GONE.test(message)) return { dependency: 'redis', reason: 'not reachable' };
  const driver = e.driverError ?? e;
  const code = String(driver.code ?? '');
  if (
    /^08[0-9A-Z]{3}$/.test(code) ||
    /^57P0[1-3]$/.test(code) ||
    code === '53300' ||
    DATABASE_GONE.test(String(driver.message ?? message))
  ) {
    return { dependency: 'database', reason: 'not reachable or shutting down' };
  }
  if (CONNECTION_ERROR_CODES.has(code) && typeof driver.syscall === 'string' && !(error instanceof TypeError)) {
    return { dependency: 'database', reason: `connection failed (${code})` };
  }
  return undefined;
}

/** body-parser and multer errors carry a `type`/`code` and a status. */
function asBodyParserError(error: unknown): Omit<ProblemDocument, 'instance'> | undefined {
  const e = error as { type?: string; status?: number; code?: string; message?: string };
  if (!e || typeof e !== 'object') return undefined;
  if (e.type === 'entity.too.large' || e.code === 'LIMIT_FILE_SIZE') {
    return {
      type: `${PROBLEM_TYPE_BASE}payload-too-large`,
      title: 'Payload Too Large',
      status: 413,
      detail: 'request body exceeds the size limit',
    };
  }
  if (e.type === 'entity.parse.failed') {
    return { type: `${PROBLEM_TYPE_BASE}malformed-body`, title: 'Bad Request', status: 400, detail: 'request body is not valid JSON' };
  }
  if (
    typeof e.status === 'number' &&
    e.status >= 400 &&
    e.status < 500 &&
    (e.type?.startsWith('encoding.') ||
      e.type?.startsWith('charset.') ||
      e.type === 'request.aborted' ||
      e.type === 'request.size.invalid' ||
      e.type === 'stream.encoding.set' ||
      e.type === 'parameters.too.many')
  ) {
    return {
      type: `${PROBLEM_TYPE_BASE}malformed-body`,
      title: HTTP_TITLES[e.status] ?? 'Bad Request',
      status: e.status,
      detail: e.message ?? 'malformed request body',
    };
  }
  if (typeof e.code === 'string' && e.code.startsWith('LIMIT_')) {
    return {
      type: `${PROBLEM_TYPE_BASE}malformed-body`,
      title: 'Bad Request',
      status: 400,
      detail: `multipart upload rejected: ${e.message ?? e.code}`,
    };
  }
  return undefined;
}

@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemDetailsFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    const { problem, headers } = toProblem(error, req.originalUrl?.split('?')[0] ?? req.url);
    if (problem.status >= 500) {
      this.logger.error(
        `${req.method} ${(req.route as { path?: string } | undefined)?.path ?? 'unmatched'} failed: ${(error as Error)?.message ?? String(error)}`,
        (error as Error)?.stack,
      );
    }
    sendProblem(res, problem, headers);
  }
}
