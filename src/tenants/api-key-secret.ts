import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hashKey } from '../common/presented-key';

/**
 * Key format: `srk_<lookup>_<secret>`: the lookup part (12 hex chars) finds the row through an index,
 * the secret (32 random bytes, base64url) is only ever stored as a SHA-256 hash. Keys are
 * high-entropy, so a fast hash is enough; comparison is constant-time.
 */
export const KEY_PREFIX = 'srk_';
const KEY_PATTERN = /^srk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface GeneratedKey {
  key: string;
  lookupPrefix: string;
  keyHash: string;
}

export function generateApiKey(): GeneratedKey {
  const lookupPrefix = randomBytes(6).toString('hex');
  const key = `${KEY_PREFIX}${lookupPrefix}_${randomBytes(32).toString('base64url')}`;
  return { key, lookupPrefix, keyHash: hashKey(key) };
}

/** The lookup prefix of a well-formed key, or undefined. */
export function parseLookupPrefix(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1];
}

export function keyMatchesHash(presented: string, storedHash: string): boolean {
  const a = Buffer.from(hashKey(presented), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function keysEqual(presented: string, expected: string): boolean {
  return keyMatchesHash(presented, hashKey(expected));
}
