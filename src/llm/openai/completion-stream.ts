import { CompletionResult, CompletionStream } from '../llm-provider.port';

/**
 * Runs a streamed completion at once and exposes it as the port's `CompletionStream`: deltas are
 * queued as they arrive (so awaiting only `result` works too), `result` settles when the run ends.
 * Breaking out of the `deltas` loop early aborts the call; `deltas` is for one consumer.
 */
export function completionStream(
  callerSignal: AbortSignal | undefined,
  run: (signal: AbortSignal, emit: (delta: string) => void) => Promise<CompletionResult>,
): CompletionStream {
  // aborted by the caller, or here when the consumer stops reading
  const abort = new AbortController();
  const signal = callerSignal ? AbortSignal.any([callerSignal, abort.signal]) : abort.signal;
  const queue: string[] = [];
  let settled = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };

  const result = run(signal, (delta) => {
    queue.push(delta);
    notify();
  }).then(
    (value) => {
      settled = true;
      notify();
      return value;
    },
    (error: unknown) => {
      settled = true;
      failure = { error };
      notify();
      throw error;
    },
  );
  result.catch(() => undefined);

  async function* deltas(): AsyncGenerator<string> {
    try {
      for (;;) {
        if (queue.length > 0) yield queue.shift()!;
        else if (settled) {
          if (failure) throw failure.error;
          return;
        } else await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      if (!settled) abort.abort(new DOMException('the stream consumer stopped reading', 'AbortError'));
    }
  }

  return { deltas: deltas(), result };
}
