import type { Chunk } from './chunk-text';

/** What to embed for a chunk: its heading path as a first line, then its text. */
export function chunkTextWithContext(chunk: Pick<Chunk, 'text' | 'heading_path'>): string {
  return chunk.heading_path.length === 0 ? chunk.text : `${chunk.heading_path.join(' > ')}\n\n${chunk.text}`;
}
