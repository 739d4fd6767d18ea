import type { NextFunction, Request, Response } from 'express';
import { hashKey, presentedKey } from '../common/presented-key';
import { PROBLEM_TYPE_BASE } from '../common/problem';
import { currentRequestContext } from '../common/request-context';

/** The costly routes, with a budget of their own (RATE_LIMIT_RPS, RATE_LIMIT_TENANT_RPS). */
export const QUERY_ROUTES: ReadonlySet<string> = new Set(['/v1/retrieve', '/v1/rag']);

export type Budget = 'query' | 'management';

/** by the request path as Express matches it (case-insensitive, a trailing slash allowed) */
export function budgetOf(path: string): Budget {
  if (QUERY_ROUTES.has(path)) return 'query';
  return QUERY_ROUTES.has(path.toLowerCase().replace(/\/+$/, '')) ? 'query' : 'management';
}

export interface AdmissionVerdict {
  /** epoch ms (the gate's clock) the refusal stands until */
  until: number;
  /** the problem document's `detail`, JSON-encoded once */
  detailJson: string;
}

interface FailureWindow {
  failures: number;
  endsAt: number;
}

/** how long a key that authenticated stays exempt from its address's failed-authentication budget */
const KNOWN_GOOD_MS = 10 * 60_000;
const FAILURE_WINDOW_MS = 1_000;
const MAX_HOLD_MS = 1_250;
const HOLD_JITTER_MS = 250;
/** each held answer is a timer and a response already in memory: bounded all the same */
const MAX_HELD = 10_000;
const SWEEP_INTERVAL_MS = 10_000;

/**
 * Cheap refusals before authentication, in process (with either rate-limit storage: the storage
 * decides, this remembers its verdict).
 *
 * - When the rate-limit guard refuses an authenticated key, the verdict is kept under the SHA-256
 *   of the whole presented key (what the database stores, never the key itself) and its budget
 *   until the block ends. The same key's next requests on that budget are refused here, before
 *   the key lookup, the Nest pipeline and the throttler storage. Only the exact key matches: a
 *   client that knows a key's lookup prefix but not its secret cannot get that key refused.
 * - Failed authentications are counted per client address (RATE_LIMIT_AUTH_FAILURES a second).
 *   Past that, requests from the address are refused here unless they present a key that
 *   authenticated recently, so a flood of wrong keys stops costing key lookups while real keys
 *   behind the same address keep working.
 * - A refused answer is held back (holdMs), so a client ignoring Retry-After asks about once a block.
 */
export class AdmissionGate {
  private readonly refusals = new Map<string, AdmissionVerdict>();
  private readonly failures = new Map<string, FailureWindow>();
  private readonly knownGood = new Map<string, number>();
  private nextSweepAt = 0;

  constructor(
    private readonly authFailureLimit: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The rate-limit guard refused `keyHash` on `budget` for `retryAfterSeconds`. */
  rememberRefusal(keyHash: string, budget: Budget, retryAfterSeconds: number, detail: string): void {
    this.refusals.set(`${budget}\u0000${keyHash}`, {
      until: this.now() + Math.max(1, Math.ceil(retryAfterSeconds)) * 1000,
      detailJson: JSON.stringify(detail),
    });
  }

  authenticated(keyHash: string): void {
    this.knownGood.set(keyHash, this.now() + KNOWN_GOOD_MS);
  }

  authenticationFailed(address: string): void {
    const now = this.now();
    const window = this.failures.get(address);
    if (!window || window.endsAt <= now) this.failures.set(address, { failures: 1, endsAt: now + FAILURE_WINDOW_MS });
    else window.failures += 1;
  }

  /** The refusal that stands for this request, if any; undefined admits it to the full pipeline. */
  check(keyHash: string | undefined, budget: Budget, address: string): AdmissionVerdict | undefined {
    const now = this.now();
    if (now >= this.nextSweepAt) this.sweep(now);
    if (keyHash) {
      const refusal = this.refusals.get(`${budget}\u0000${keyHash}`);
      if (refusal && refusal.until > now) return refusal;
    }
    const window = this.failures.get(address);
    if (window && this.authFailureLimit > 0 && window.failures >= this.authFailureLimit && window.endsAt > now) {
      const known = keyHash ? this.knownGood.get(keyHash) : undefined;
      if (known === undefined || known <= now) {
        return { until: window.endsAt, detailJson: TOO_MANY_FAILURES_DETAIL };
      }
    }
    return undefined;
  }

  /**
   * How long to hold a refused answer: a client that ignores Retry-After and asks again at once
   * would otherwise keep the event loop busy with refusals, taking turns from every other tenant.
   * Held until the refusal ends plus up to HOLD_JITTER_MS (so that the held clients do not all come
   * back at the same instant), at most MAX_HOLD_MS, up to MAX_HELD answers at once.
   */
  holdMs(verdict: AdmissionVerdict): number {
    if (this.held >= MAX_HELD) return 0;
    return Math.round(Math.min(MAX_HOLD_MS, Math.max(0, verdict.until - this.now()) + Math.random() * HOLD_JITTER_MS));
  }

  retryAfterSeconds(verdict: AdmissionVerdict): number {
    return Math.max(1, Math.ceil((verdict.until - this.now()) / 1000));
  }

  /** refused answers being held now */
  held = 0;

  private sweep(now: number): void {
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    for (const [id, refusal] of this.refusals) if (refusal.until <= now) this.refusals.delete(id);
    for (const [address, window] of this.failures) if (window.endsAt <= now) this.failures.delete(address);
    for (const [hash, until] of this.knownGood) if (until <= now) this.knownGood.delete(hash);
  }
}

const TOO_MANY_FAILURES_DETAIL = JSON.stringify('too many failed authentications from this address; try again shortly');
const PROBLEM_HEAD = `{"type":${JSON.stringify(`${PROBLEM_TYPE_BASE}rate-limited`)},"title":"Too Many Requests","status":429,"detail":`;

/** the SHA-256 of the presented key, kept on the request for the guards after this middleware */
export const PRESENTED_KEY_HASH = Symbol('presentedKeyHash');
type AdmittedRequest = Request & { [PRESENTED_KEY_HASH]?: string };

export function presentedKeyHash(req: Request): string | undefined {
  const admitted = req as AdmittedRequest;
  if (!(PRESENTED_KEY_HASH in admitted)) {
    const key = presentedKey(req.headers);
    admitted[PRESENTED_KEY_HASH] = key ? hashKey(key) : undefined;
  }
  return admitted[PRESENTED_KEY_HASH];
}

export function clientAddress(req: Request): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/**
 * Express middleware ahead of body parsing and Nest's guards: a refused request costs a header
 * parse, one SHA-256 of the key, two Map lookups and a 429 assembled from a pre-rendered body,
 * answered after a hold (AdmissionGate.holdMs) with the Retry-After left at that time (at least 1).
 */
export function admissionMiddleware(gate: AdmissionGate) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const verdict = gate.check(presentedKeyHash(req), budgetOf(req.path), clientAddress(req));
    if (!verdict) return next();
    const requestId = currentRequestContext()?.requestId;
    const body = `${PROBLEM_HEAD}${verdict.detailJson},"instance":${JSON.stringify(req.path)}${requestId ? `,"request_id":${JSON.stringify(requestId)}` : ''}}`;
    const answer = () => {
      if (res.writableEnded || res.destroyed) return;
      res.statusCode = 429;
      res.setHeader('Retry-After', String(gate.retryAfterSeconds(verdict)));
      res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.end(body);
    };
    const holdMs = gate.holdMs(verdict);
    if (holdMs <= 0) return answer();
    gate.held += 1;
    const timer = setTimeout(answer, holdMs);
    res.once('close', () => {
      clearTimeout(timer);
      gate.held -= 1;
    });
  };
}
