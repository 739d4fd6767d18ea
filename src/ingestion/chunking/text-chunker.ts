import { extname, join } from 'node:path';
import { PortThread } from '../../common/port-thread';
import type { Chunk } from './chunk-text';
import type { ChunkerSettings } from './chunker-settings';
import type { ChunkingEngine } from './chunking-engine';

/**
 * Chunking and cl100k_base token counting for ingestion and the offline answerer's usage counts.
 *
 * Why a port: the tokenizer's tables (js-tiktoken's ranks, gpt-tokenizer's BPE maps and the cache
 * of piece counts: ~25 MB in ~300k small objects after SciFact) are long-lived, and every full
 * garbage collection of the heap that holds them marks them all. On the event loop's heap they
 * made each request's share of GC ~70 % larger after an ingestion (bench:retrieve, hybrid p95
 * 29 ms after ingesting vs 24 ms after a restart on the same data); on a thread of their own
 * they cost the HTTP path nothing, and chunking leaves the event loop too.
 */
export abstract class TextChunker {
  abstract chunk(text: string, settings: Partial<ChunkerSettings>): Promise<Chunk[]>;
  /** cl100k_base tokens of each text */
  abstract countTokens(texts: string[]): Promise<number[]>;
  /** gets ready now (a thread and its tokenizer) rather than on the first call */
  async start(): Promise<void> {}
  async close(): Promise<void> {}
}

/** On the calling thread (EMBEDDED_THREADS=false); the tokenizer is loaded on first use. */
export class InProcessTextChunker extends TextChunker {
  private engine: ChunkingEngine | undefined;

  private async loaded(): Promise<ChunkingEngine> {
    if (!this.engine) {
      const { ChunkingEngine } = await import('./chunking-engine');
      this.engine = new ChunkingEngine();
    }
    return this.engine;
  }

  async chunk(text: string, settings: Partial<ChunkerSettings>): Promise<Chunk[]> {
    return (await this.loaded()).chunk(text, settings);
  }

  async countTokens(texts: string[]): Promise<number[]> {
    return (await this.loaded()).countTokens(texts);
  }
}

/** On a worker thread of its own (`PortThread`, started on first use, restarted if it dies). */
export class ThreadedTextChunker extends TextChunker {
  private readonly thread = new PortThread({
    modulePath: join(__dirname, `chunking-engine${extname(__filename)}`),
    exportName: 'ChunkingEngine',
    argument: undefined,
    name: 'text chunker',
  });

  override start(): Promise<void> {
    return this.thread.start();
  }

  chunk(text: string, settings: Partial<ChunkerSettings>): Promise<Chunk[]> {
    return this.thread.call('chunk', text, settings);
  }

  countTokens(texts: string[]): Promise<number[]> {
    return texts.length === 0 ? Promise.resolve([]) : this.thread.call('countTokens', texts);
  }

  override close(): Promise<void> {
    return this.thread.close();
  }
}
