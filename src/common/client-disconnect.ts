import type { Response } from 'express';

/** A signal that aborts when the client closes the connection before its response was finished. */
export function abortedOnClientClose(res: Response): AbortSignal {
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort(new DOMException('the client disconnected', 'AbortError'));
  });
  return abort.signal;
}
