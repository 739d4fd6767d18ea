import type { ValueTransformer } from 'typeorm';
import { jsonTextDepth } from '../common/json-shape';

/**
 * Stored JSON nested deeper than this is not read back: rows written before metadata had a depth
 * limit could hold thousands of levels, which overflow the stack when a value crosses threads
 * (structured clone recurses) or is written into a response (JSON.stringify recurses).
 */
export const MAX_READ_JSON_DEPTH = 32;

/** The stored JSON text as a value; `unreadable` when it nests deeper than MAX_READ_JSON_DEPTH. */
export function readStoredJson<T>(text: string, unreadable: T): unknown {
  if (jsonTextDepth(text, MAX_READ_JSON_DEPTH) > MAX_READ_JSON_DEPTH) return unreadable;
  return JSON.parse(text);
}

/** A JSON object column (TypeORM's simple-json, read with the depth bound): `{}` when unreadable. */
export const jsonObjectColumn: ValueTransformer = {
  to: (value: unknown) => (value === undefined ? value : JSON.stringify(value)),
  from: (value: unknown) => (typeof value === 'string' ? readStoredJson(value, {}) : value),
};
