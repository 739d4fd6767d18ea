import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

/** Embeddings already computed, keyed by (model, sha256 of the text). */
export abstract class EmbeddingCache {
  abstract getMany(model: string, texts: string[]): Promise<Array<Float32Array | undefined>>;
  abstract setMany(model: string, entries: Array<{ text: string; vector: Float32Array }>): Promise<void>;
  async close(): Promise<void> {}
}

export function textHash(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/** In-process LRU: a Map keeps insertion order, so the first key is the least recently used. */
export class InProcessEmbeddingCache extends EmbeddingCache {
  private readonly entries = new Map<string, Float32Array>();

  constructor(private readonly capacity: number) {
    super();
  }

  async getMany(model: string, texts: string[]): Promise<Array<Float32Array | undefined>> {
    return texts.map((text) => {
      const key = `${model}\u0000${textHash(text)}`;
      const vector = this.entries.get(key);
      if (vector) {
        this.entries.delete(key);
        this.entries.set(key, vector);
      }
      return vector;
    });
  }

  async setMany(model: string, entries: Array<{ text: string; vector: Float32Array }>): Promise<void> {
    if (this.capacity === 0) return;
    for (const { text, vector } of entries) {
      this.entries.set(`${model}\u0000${textHash(text)}`, vector);
      if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    }
  }
}

const REDIS_TTL_SECONDS = 7 * 24 * 3600;

/** Shared by every replica when REDIS_URL is set; vectors are stored as raw float32 bytes. */
export class RedisEmbeddingCache extends EmbeddingCache {
  constructor(private readonly redis: Redis) {
    super();
  }

  private key(model: string, text: string): string {
    return `self-rag:emb:${model}:${textHash(text)}`;
  }

  async getMany(model: string, texts: string[]): Promise<Array<Float32Array | undefined>> {
    if (texts.length === 0) return [];
    // an unreachable cache is a miss, never a failed embedding
    const values = await this.redis.mgetBuffer(...texts.map((text) => this.key(model, text))).catch(() => texts.map(() => null));
    return values.map((value) => (value && value.length % 4 === 0 ? new Float32Array(new Uint8Array(value).buffer) : undefined));
  }

  async setMany(model: string, entries: Array<{ text: string; vector: Float32Array }>): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const { text, vector } of entries) {
      pipeline.set(this.key(model, text), Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength), 'EX', REDIS_TTL_SECONDS);
    }
    await pipeline.exec().catch(() => undefined);
  }

  override async close(): Promise<void> {
    this.redis.disconnect();
  }
}
