import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** Lease owner name of this process's workers: host, pid and a random part (pids repeat after restarts). */
export function workerOwnerId(slot: number | string): string {
  return `${hostname().slice(0, 40)}:${process.pid}:${randomBytes(4).toString('hex')}:${slot}`;
}
