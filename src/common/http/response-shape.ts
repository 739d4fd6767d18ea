import { DependencyError } from '../errors';

/** The provider answered 2xx with something that is not what its API promises. */
export function badResponse(provider: string, message: string): DependencyError {
  return new DependencyError(provider, 'bad_response', message);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A non-empty array of finite numbers as a Float32Array; undefined for anything else. */
export function toVector(value: unknown): Float32Array | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const vector = new Float32Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (typeof item !== 'number' || !Number.isFinite(item)) return undefined;
    vector[i] = item;
  }
  return vector;
}

/** A non-negative integer count (token usage), or `fallback` when the provider left it out. */
export function countOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : fallback;
}

/** Rough token count (4 characters a token) for providers that report no usage. */
export function estimateTokens(texts: Iterable<string>): number {
  let chars = 0;
  for (const text of texts) chars += text.length;
  return Math.ceil(chars / 4);
}
