import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * The nice value of threads that do background work for one tenant: parsing an untrusted
 * document, building a vector graph. On Linux the nice value is per thread, so at 10 these threads
 * get a core only when the threads that answer requests (the event loop, the index threads) do
 * not need it: one tenant's big upload slows its own indexing, not everyone's searches.
 */
export const BACKGROUND_THREAD_NICE = 10;

/**
 * Lowers the calling thread's scheduling priority to `nice` (never raises it). Returns whether
 * it could: elsewhere than Linux (no /proc/thread-self) nothing changes.
 */
export function lowerThisThreadPriority(nice = BACKGROUND_THREAD_NICE): boolean {
  try {
    // "<pid>/task/<tid>": the kernel's id of this very thread
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
