import { isIdShaped, truncate } from './safe-echo';

/**
 * Typed application errors. Services throw these; the one problem+json filter maps them to HTTP.
 * Nothing else formats an error response.
 */
export abstract class AppError extends Error {
  abstract readonly status: number;
  abstract readonly title: string;
  /** last path segment of the problem `type` URI */
  abstract readonly code: string;
  /** extra members of the problem document (e.g. `errors`, `dependency`) */
  readonly extensions: Record<string, unknown> = {};
  /** response headers to add (e.g. Retry-After) */
  readonly headers: Record<string, string> = {};
}

export class NotFoundError extends AppError {
  readonly status = 404;
  readonly title = 'Not Found';
  readonly code = 'not-found';
  /** `id` is named in the message only when it is shaped like an id (never a pasted secret) */
  constructor(resource: string, id?: string) {
    super(id !== undefined && isIdShaped(id) ? `${resource} '${id}' not found` : `${resource} not found`);
  }
}

export class ConflictError extends AppError {
  readonly status = 409;
  readonly title = 'Conflict';
  readonly code = 'conflict';
}

export interface FieldError {
  field: string;
  message: string;
}

/** A 422 lists this many field errors at most (with `error_count` when there were more). */
export const MAX_LISTED_FIELD_ERRORS = 20;
const MAX_FIELD_CHARS = 200;
const MAX_MESSAGE_CHARS = 300;
/** field errors spelled out in `detail` */
const ERRORS_IN_DETAIL = 5;

export class ValidationFailedError extends AppError {
  readonly status = 422;
  readonly title = 'Unprocessable Content';
  readonly code = 'validation-failed';
  readonly errors: FieldError[];
  /**
   * Field names and messages can carry the caller's text (an unknown key is named in its
   * error): each is cut short, and only the first few are listed, so the answer stays small.
   */
  constructor(errors: FieldError[]) {
    const listed = errors
      .slice(0, MAX_LISTED_FIELD_ERRORS)
      .map((e) => ({ field: truncate(e.field, MAX_FIELD_CHARS), message: truncate(e.message, MAX_MESSAGE_CHARS) }));
    const spelled = listed.slice(0, ERRORS_IN_DETAIL).map((e) => `${e.field}: ${e.message}`);
    if (errors.length > ERRORS_IN_DETAIL) spelled.push(`and ${errors.length - ERRORS_IN_DETAIL} more`);
    super(spelled.join('; '));
    this.errors = listed;
    this.extensions.errors = listed;
    if (errors.length > listed.length) this.extensions.error_count = errors.length;
  }
}

export class BadRequestError extends AppError {
  readonly status = 400;
  readonly title = 'Bad Request';
  readonly code = 'bad-request';
}

export class UnauthorizedError extends AppError {
  readonly status = 401;
  readonly title = 'Unauthorized';
  readonly code = 'unauthorized';
  constructor(message = 'a valid API key is required') {
    super(message);
    this.headers['WWW-Authenticate'] = 'Bearer';
  }
}

export class ForbiddenError extends AppError {
  readonly status = 403;
  readonly title = 'Forbidden';
  readonly code = 'forbidden';
}

export class PayloadTooLargeError extends AppError {
  readonly status = 413;
  readonly title = 'Payload Too Large';
  readonly code = 'payload-too-large';
}

export class UnsupportedMediaTypeError extends AppError {
  readonly status = 415;
  readonly title = 'Unsupported Media Type';
  readonly code = 'unsupported-media-type';
}

export class QuotaExceededError extends AppError {
  readonly status = 429;
  readonly title = 'Quota Exceeded';
  readonly code = 'quota-exceeded';
}

export class RateLimitedError extends AppError {
  readonly status = 429;
  readonly title = 'Too Many Requests';
  readonly code = 'rate-limited';
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  }
}

export class ServiceUnavailableError extends AppError {
  readonly status = 503;
  readonly title = 'Service Unavailable';
  readonly code = 'service-unavailable';
}

/** How an outgoing call to a dependency failed. */
export type DependencyFailure = 'timeout' | 'unavailable' | 'bad_response' | 'rejected' | 'circuit_open';

/**
 * A dependency (LLM, embedding, rerank, Qdrant, Redis…) failed. Maps to 504 on timeout,
 * 503 when unreachable or its circuit is open, 502 when it answered with garbage or an error.
 */
export class DependencyError extends AppError {
  readonly title: string;
  readonly code = 'dependency-failed';
  readonly status: number;
  constructor(
    readonly dependency: string,
    readonly failure: DependencyFailure,
    message: string,
    /** whether trying again may help (timeouts, 429, 5xx, resets) */
    readonly retryable = failure !== 'bad_response' && failure !== 'rejected',
  ) {
    super(`${dependency}: ${message}`);
    this.status = failure === 'timeout' ? 504 : failure === 'unavailable' || failure === 'circuit_open' ? 503 : 502;
    this.title = failure === 'timeout' ? 'Gateway Timeout' : this.status === 503 ? 'Service Unavailable' : 'Bad Gateway';
    this.extensions.dependency = dependency;
    this.extensions.failure = failure;
  }
}
