/** Abort reason used when one of our own timers fires (as opposed to the caller aborting). */
export class DeadlineExceeded extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'DeadlineExceeded';
  }
}

/**
 * An AbortController that follows its parent signals and, optionally, a timer of its own.
 * `timedOut` tells our timer apart from a parent's abort; `dispose()` unhooks from the parents,
 * so a long-lived caller signal does not collect listeners.
 */
export class LinkedAbort {
  private readonly controller = new AbortController();
  private readonly unhook: Array<() => void> = [];
  private timer?: NodeJS.Timeout;
  private fired = false;

  constructor(parents: Array<AbortSignal | undefined>, timeoutMs?: number) {
    for (const parent of parents) {
      if (!parent) continue;
      if (parent.aborted) {
        this.controller.abort(parent.reason);
        break;
      }
      const onAbort = () => this.controller.abort(parent.reason);
      parent.addEventListener('abort', onAbort, { once: true });
      this.unhook.push(() => parent.removeEventListener('abort', onAbort));
    }
    if (timeoutMs !== undefined && !this.controller.signal.aborted) {
      this.timer = setTimeout(() => {
        this.fired = true;
        this.controller.abort(new DeadlineExceeded(timeoutMs));
      }, timeoutMs);
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** whether our own timer (not a parent) caused the abort */
  get timedOut(): boolean {
    return this.fired;
  }

  abort(reason?: unknown): void {
    this.controller.abort(reason);
  }

  clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  dispose(): void {
    this.clearTimer();
    for (const unhook of this.unhook.splice(0)) unhook();
  }
}
