import CircuitBreaker from 'opossum';

/** When a provider's circuit opens and how long it stays open. */
export interface BreakerOptions {
  /** failures (in % of calls in the rolling window) above which the circuit opens */
  errorThresholdPercentage: number;
  /** fewer calls than this in the window never open the circuit */
  volumeThreshold: number;
  /** how long the circuit stays open before one trial call is let through (half-open) */
  resetTimeoutMs: number;
  /** length of the rolling window the failure rate is measured over */
  rollingWindowMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = {
  errorThresholdPercentage: 50,
  volumeThreshold: 5,
  resetTimeoutMs: 30_000,
  rollingWindowMs: 10_000,
};

export type BreakerState = 'closed' | 'open' | 'half_open';

type Attempt = () => Promise<unknown>;

/**
 * One opossum circuit breaker per provider and base URL, shared by every adapter that talks to
 * that endpoint (an embedding and a chat adapter on the same vLLM server trip together).
 * The breaker only counts and short-circuits: timeouts and retries belong to the caller.
 */
export class CircuitBreakerRegistry {
  private readonly breakers = new Map<string, CircuitBreaker<[Attempt], unknown>>();

  /**
   * The breaker for `provider` at `baseUrl`, made on first use with `options`.
   * `countsAsFailure` decides which errors trip it (dependency down, not "request refused").
   */
  get(
    provider: string,
    baseUrl: string,
    options: BreakerOptions,
    countsAsFailure: (error: unknown) => boolean,
  ): CircuitBreaker<[Attempt], unknown> {
    const key = breakerKey(provider, baseUrl);
    let breaker = this.breakers.get(key);
    if (!breaker) {
      breaker = new CircuitBreaker((attempt: Attempt) => attempt(), {
        name: key,
        timeout: false,
        errorThresholdPercentage: options.errorThresholdPercentage,
        volumeThreshold: options.volumeThreshold,
        resetTimeout: options.resetTimeoutMs,
        rollingCountTimeout: options.rollingWindowMs,
        rollingCountBuckets: 10,
        rollingPercentilesEnabled: false,
        enableSnapshots: false,
        errorFilter: (error: unknown) => !countsAsFailure(error),
      });
      this.breakers.set(key, breaker);
    }
    return breaker;
  }

  /** State of every breaker, e.g. for a readiness check or a gauge. */
  states(): Array<{ key: string; state: BreakerState }> {
    return [...this.breakers].map(([key, breaker]) => ({ key, state: stateOf(breaker) }));
  }

  /** Stops the breakers' timers (for shutdown and tests). */
  shutdown(): void {
    for (const breaker of this.breakers.values()) breaker.shutdown();
    this.breakers.clear();
  }
}

/** The process-wide registry that adapters use unless given their own. */
export const sharedCircuitBreakers = new CircuitBreakerRegistry();

export function breakerKey(provider: string, baseUrl: string): string {
  return `${provider} ${baseUrl.replace(/\/+$/, '')}`;
}

function stateOf(breaker: CircuitBreaker<[Attempt], unknown>): BreakerState {
  if (breaker.halfOpen) return 'half_open';
  return breaker.opened ? 'open' : 'closed';
}
