import { createHash } from 'node:crypto';

/** Namespace of chunk ids (a random UUID fixed once for this service). */
const CHUNK_NAMESPACE = Buffer.from('6f1c2d3e4a5b46c7890a1b2c3d4e5f60', 'hex');

/**
 * RFC 9562 UUIDv5 of (document, generation, position): the same chunk of the same indexing run
 * always gets the same id, so a retried or resumed job overwrites instead of duplicating.
 */
export function chunkId(documentId: string, generation: number, position: number): string {
  const hash = createHash('sha1').update(CHUNK_NAMESPACE).update(`${documentId}/${generation}/${position}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
