import { DependencyError } from '../errors';
import { setTimeout as delay } from 'node:timers/promises';
import { fullJitterDelay, parseRetryAfter } from './backoff';
import { BreakerOptions, CircuitBreakerRegistry, DEFAULT_BREAKER, sharedCircuitBreakers } from './circuit-breakers';
import { badResponse } from './response-shape';

/** How failed attempts are tried again. */
export interface RetryOptions {
  /** extra attempts after the first one */
  retries: number;
  /** backoff before retry n is random in [0, min(backoffMaxMs, backoffBaseMs · 2^n)) */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** a `Retry-After` longer than this is not waited for: the call fails at once */
  maxRetryAfterMs: number;
  /** whether an attempt that timed out is tried again (off: a timeout has already spent the caller's budget) */
  retryOnTimeout: boolean;
}

export const DEFAULT_RETRY: RetryOptions = {
  retries: 2,
  backoffBaseMs: 250,
  backoffMaxMs: 4_000,
  maxRetryAfterMs: 20_000,
  retryOnTimeout: false,
};

export const DEFAULT_TIMEOUT_MS = 30_000;

export interface ProviderHttpOptions {
  /** dependency name carried by every DependencyError (`openai`, `ollama`, `cohere`…) */
  provider: string;
  /** scheme, host, port and path prefix; request paths are appended to it */
  baseUrl: string;
  /** sent with every request (e.g. Authorization); their values are masked in error messages */
  headers?: Record<string, string>;
  /** per-attempt timeout of JSON calls, in ms */
  timeoutMs?: number;
  retry?: Partial<RetryOptions>;
  /** `false` turns the circuit breaker off */
  breaker?: Partial<BreakerOptions> | false;
  /** where breakers live; the process-wide registry unless given (tests pass their own) */
  breakers?: CircuitBreakerRegistry;
  /** source of jitter, [0, 1) */
  random?: () => number;
}

/** What every provider adapter takes besides its own settings. */
export interface ProviderClientOptions {
  baseUrl: string;
  /** sent as `Authorization: Bearer …` when set */
  apiKey?: string;
  timeoutMs?: number;
  retry?: Partial<RetryOptions>;
  breaker?: Partial<BreakerOptions> | false;
  breakers?: CircuitBreakerRegistry;
}

/** `Authorization: Bearer <apiKey>`, or nothing without a key. */
export function bearer(apiKey: string | undefined): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}

export interface CallOptions {
  signal?: AbortSignal;
  /** overrides the client's per-attempt timeout */
  timeoutMs?: number;
}

export interface StreamCallOptions {
  signal?: AbortSignal;
  /** per attempt: until the response headers arrive */
  firstByteTimeoutMs: number;
  /** the whole call, retries and the full body included */
  totalTimeoutMs: number;
}

/** One failed attempt, with what the retry loop and the breaker need to know about it. */
class AttemptFailure extends Error {
  constructor(
    readonly error: DependencyError,
    readonly retry: boolean,
    readonly tripsBreaker: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(error.message);
  }
}

type Attempt<T> = (signal: AbortSignal | undefined) => Promise<T>;

/** `own`, aborted too when the caller's signal (if any) aborts */
function followCaller(caller: AbortSignal | undefined, own: AbortSignal): AbortSignal {
  return caller ? AbortSignal.any([caller, own]) : own;
}

/** Abort reason of a stream attempt whose response headers did not arrive in time. */
class FirstByteTimeout extends Error {}

/**
 * Outgoing JSON calls to one provider endpoint over global `fetch` (undici, so OTel's undici
 * instrumentation traces each attempt): a timeout per attempt combined with the caller's signal,
 * bounded retries with full-jitter exponential backoff for connection errors, 408, 429 (honoring
 * `Retry-After`) and 5xx, and a circuit breaker shared per provider and base URL. Every failure
 * is a DependencyError naming the provider; a caller's abort rethrows the caller's reason.
 */
export class ProviderHttpClient {
  readonly provider: string;
  readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly secrets: string[];
  private readonly timeoutMs: number;
  private readonly retry: RetryOptions;
  private readonly random: () => number;
  private readonly breaker?: ReturnType<CircuitBreakerRegistry['get']>;

  constructor(options: ProviderHttpOptions) {
    this.provider = options.provider;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.headers = { 'content-type': 'application/json', accept: 'application/json', ...options.headers };
    this.secrets = secretsIn(options.headers ?? {});
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.random = options.random ?? Math.random;
    if (options.breaker !== false) {
      const registry = options.breakers ?? sharedCircuitBreakers;
      this.breaker = registry.get(
        this.provider,
        this.baseUrl,
        { ...DEFAULT_BREAKER, ...options.breaker },
        (error) => error instanceof AttemptFailure && error.tripsBreaker,
      );
    }
  }

  postJson(path: string, body: unknown, options: CallOptions = {}): Promise<unknown> {
    const payload = JSON.stringify(body);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return this.call(options.signal, (signal) => this.attemptJson('POST', path, payload, signal, timeoutMs));
  }

  getJson(path: string, options: CallOptions = {}): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return this.call(options.signal, (signal) => this.attemptJson('GET', path, undefined, signal, timeoutMs));
  }

  /**
   * POST that answers with a stream (SSE or NDJSON). Retries happen only until the headers
   * arrive; once the body flows, a broken stream is an error for the caller to see.
   */
  async postStream(path: string, body: unknown, options: StreamCallOptions): Promise<ProviderStream> {
    const payload = JSON.stringify(body);
    const total = AbortSignal.timeout(options.totalTimeoutMs);
    const deadline = followCaller(options.signal, total);
    try {
      const { response, attempt } = await this.call(deadline, (signal) =>
        this.attemptStream(path, payload, signal, options.firstByteTimeoutMs),
      );
      return new ProviderStream(response.body!, attempt, (error) => this.streamError(error, path, total, options));
    } catch (error) {
      throw this.streamError(error, path, total, options);
    }
  }

  private async call<T>(signal: AbortSignal | undefined, attempt: Attempt<T>): Promise<T> {
    for (let n = 0; ; n++) {
      try {
        return this.breaker ? ((await this.breaker.fire(() => attempt(signal))) as T) : await attempt(signal);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if ((error as { code?: unknown }).code === 'EOPENBREAKER') {
          throw new DependencyError(this.provider, 'circuit_open', `circuit open after repeated failures of ${this.baseUrl}; failing fast`);
        }
        if (!(error instanceof AttemptFailure)) throw error;
        const waitTooLong = error.retryAfterMs !== undefined && error.retryAfterMs > this.retry.maxRetryAfterMs;
        if (!error.retry || n >= this.retry.retries || waitTooLong) throw error.error;
        const backoff = fullJitterDelay(n, this.retry.backoffBaseMs, this.retry.backoffMaxMs, this.random);
        // the caller's abort rethrows the caller's reason, not the timer's AbortError
        await delay(Math.max(error.retryAfterMs ?? 0, backoff), undefined, { signal }).catch((abort: unknown) => {
          throw signal?.aborted ? signal.reason : abort;
        });
      }
    }
  }

  private async attemptJson(
    method: string,
    path: string,
    payload: string | undefined,
    parent: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<unknown> {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const response = await fetch(this.baseUrl + path, {
        method,
        headers: this.headers,
        body: payload,
        signal: followCaller(parent, timeout),
      });
      const text = await response.text();
      if (!response.ok) throw this.statusFailure(method, path, response, text);
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new AttemptFailure(
          badResponse(this.provider, `${method} ${path} answered malformed JSON: ${this.snippet(text)}`),
          false,
          false,
        );
      }
    } catch (error) {
      throw this.attemptError(error, method, path, timeout.aborted, parent, timeoutMs);
    }
  }

  private async attemptStream(
    path: string,
    payload: string,
    parent: AbortSignal | undefined,
    firstByteTimeoutMs: number,
  ): Promise<{ response: Response; attempt: AbortController }> {
    // the first-byte timer stops once the headers arrive (an AbortSignal.timeout cannot be
    // cleared); the controller stays, so closing the stream can still let the connection go
    const attempt = new AbortController();
    const firstByte = setTimeout(() => attempt.abort(new FirstByteTimeout()), firstByteTimeoutMs);
    try {
      const response = await fetch(this.baseUrl + path, {
        method: 'POST',
        headers: { ...this.headers, accept: 'text/event-stream, application/x-ndjson, application/json' },
        body: payload,
        signal: followCaller(parent, attempt.signal),
      });
      if (!response.ok) throw this.statusFailure('POST', path, response, await response.text());
      if (!response.body) throw new AttemptFailure(badResponse(this.provider, `POST ${path} answered without a body`), false, false);
      return { response, attempt };
    } catch (error) {
      throw this.attemptError(error, 'POST', path, attempt.signal.reason instanceof FirstByteTimeout, parent, firstByteTimeoutMs);
    } finally {
      clearTimeout(firstByte);
    }
  }

  private attemptError(
    error: unknown,
    method: string,
    path: string,
    timedOut: boolean,
    parent: AbortSignal | undefined,
    timeoutMs: number,
  ): unknown {
    if (error instanceof AttemptFailure) return error;
    if (parent?.aborted) return parent.reason;
    if (timedOut) {
      return new AttemptFailure(
        new DependencyError(this.provider, 'timeout', `${method} ${path} gave no answer within ${timeoutMs} ms`),
        this.retry.retryOnTimeout,
        true,
      );
    }
    return new AttemptFailure(
      new DependencyError(this.provider, 'unavailable', `${method} ${path} failed: ${networkReason(error)}`),
      true,
      true,
    );
  }

  private statusFailure(method: string, path: string, response: Response, text: string): AttemptFailure {
    const status = response.status;
    const detail = this.snippet(errorMessageOf(text));
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    const retryable = status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
    if (!retryable) {
      const what = status === 401 || status === 403 ? 'refused the credentials' : 'refused the request';
      return new AttemptFailure(
        new DependencyError(this.provider, 'rejected', `${method} ${path} ${what} (${status}): ${detail}`),
        false,
        false,
      );
    }
    const error = new DependencyError(
      this.provider,
      'unavailable',
      `${method} ${path} answered ${status}${status === 429 ? ' (rate limited)' : ''}: ${detail}`,
    );
    if (retryAfterMs !== undefined) error.headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
    return new AttemptFailure(error, true, true, retryAfterMs);
  }

  private streamError(error: unknown, path: string, total: AbortSignal, options: StreamCallOptions): unknown {
    if (error instanceof DependencyError) return error;
    if (options.signal?.aborted) return options.signal.reason;
    if (total.aborted) {
      return new DependencyError(this.provider, 'timeout', `POST ${path} did not finish within ${options.totalTimeoutMs} ms`);
    }
    return new DependencyError(this.provider, 'unavailable', `POST ${path} stream broke off: ${networkReason(error)}`);
  }

  /** A short, single-line excerpt of a provider's answer with our own secrets masked. */
  private snippet(text: string): string {
    let out = text.replace(/\s+/g, ' ').trim();
    for (const secret of this.secrets) out = out.split(secret).join('[REDACTED]');
    return out.length > 200 ? `${out.slice(0, 200)}…` : out || '(empty body)';
  }
}

/**
 * The body of a streamed answer, read as lines (SSE and NDJSON are both line based).
 * Reading to the end, breaking out of the loop, or an error all release the connection.
 */
export class ProviderStream {
  constructor(
    private readonly body: ReadableStream<Uint8Array>,
    private readonly attempt: AbortController,
    private readonly mapError: (error: unknown) => unknown,
  ) {}

  async *lines(): AsyncGenerator<string> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of this.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline).replace(/\r$/, '');
          buffer = buffer.slice(newline + 1);
          yield line;
        }
      }
      buffer += decoder.decode();
      if (buffer) yield buffer;
    } catch (error) {
      throw this.mapError(error);
    } finally {
      this.close();
    }
  }

  /** Stops reading and lets the connection go. */
  close(): void {
    this.attempt.abort();
  }
}

/** `Bearer abc` → `abc` and every other header value long enough to be a credential. */
function secretsIn(headers: Record<string, string>): string[] {
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (/^(content-type|accept)$/i.test(name)) continue;
    secrets.push(value);
    const bearer = /^\s*Bearer\s+(.+)$/i.exec(value);
    if (bearer) secrets.push(bearer[1].trim());
  }
  return secrets.filter((s) => s.length >= 8).sort((a, b) => b.length - a.length);
}

/** The human message of an error body: OpenAI `{error:{message}}`, Ollama `{error}`, or the text. */
function errorMessageOf(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown; detail?: unknown };
    const error = body.error;
    if (typeof error === 'string') return error;
    if (error && typeof (error as { message?: unknown }).message === 'string') return (error as { message: string }).message;
    if (typeof body.message === 'string') return body.message;
    if (typeof body.detail === 'string') return body.detail;
  } catch {
    // not JSON: the text itself is the message
  }
  return text;
}

/** `ECONNREFUSED`, `UND_ERR_SOCKET (other side closed)`… from undici's `fetch failed` TypeError. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.message ? `${cause.code} (${cause.message})` : cause.code;
  if (cause?.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
