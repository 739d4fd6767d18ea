import { chunkText, type Chunk } from './chunk-text';
import type { ChunkerSettings } from './chunker-settings';
import { countTokens } from './tokenizer';

/** Chunking and token counting as one object, so that a `PortThread` can host them. */
export class ChunkingEngine {
  chunk(text: string, settings: Partial<ChunkerSettings>): Chunk[] {
    return chunkText(text, settings);
  }

  countTokens(texts: string[]): number[] {
    return texts.map((text) => countTokens(text));
  }

  /** nothing to release; `PortThread.close` calls it */
  close(): void {}
}
