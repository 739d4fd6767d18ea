import { ChunkerSettings, resolveChunkerSettings } from './chunker-settings';
import { findMarkdownHeadings, HeadingTrail } from './markdown-headings';
import {
  BoundaryFinder,
  clauseBoundaries,
  lineBoundaries,
  paragraphBoundaries,
  sentenceBoundaries,
  splitIntoPieces,
  splitToFit,
  TextSpan,
  wordBoundaries,
} from './text-splitting';
import { countTokens } from '../../text/tokenizer';

/**
 * One chunk of a parsed document. `text === parsedText.slice(start_offset, end_offset)` always:
 * offsets are JavaScript string indices (UTF-16 code units) into the parsed text, and the text
 * is never decorated. `heading_path` holds the markdown headings the chunk sits under (outermost
 * first); use `chunkTextWithContext` to embed a chunk together with them.
 */
export interface Chunk {
  position: number;
  text: string;
  start_offset: number;
  end_offset: number;
  /** cl100k_base tokens of `text`; never more than the chunker's chunk_size */
  token_count: number;
  heading_path: string[];
}

const RECURSIVE_FINDERS: readonly BoundaryFinder[] = [
  paragraphBoundaries,
  lineBoundaries,
  sentenceBoundaries,
  clauseBoundaries,
  wordBoundaries,
];
const SENTENCE_PARTS: readonly BoundaryFinder[] = [clauseBoundaries, wordBoundaries];

/**
 * Splits parsed text into chunks of at most `settings.chunk_size` tokens (cl100k_base):
 * - `fixed`: runs of tokens (tiktoken pieces), `chunk_overlap` tokens repeated between chunks;
 * - `recursive`: paragraphs, then lines, sentences, clauses, words, packed up to the size, with
 *   up to `chunk_overlap` tokens of whole pieces repeated;
 * - `markdown`: one section per heading (never across headings), long sections split as
 *   `recursive`; a heading with no body before its sub-heading stays with the sub-heading;
 * - `sentence`: sentences (`。！？；…`, `.!?` + space, blank lines) packed up to the size, whole
 *   sentences of up to `chunk_overlap` tokens repeated; an over-long sentence is cut at clauses.
 * Settings are validated (422 on bad values). White space at chunk edges is left out.
 */
export function chunkText(text: string, settings: Partial<ChunkerSettings> = {}): Chunk[] {
  const { type, chunk_size: size, chunk_overlap: overlap } = resolveChunkerSettings(settings);
  const trail = new HeadingTrail(findMarkdownHeadings(text));
  const builder = new ChunkBuilder(text, size, overlap, trail);
  switch (type) {
    case 'fixed':
      builder.pack(splitIntoPieces(text, 0, text.length, size));
      break;
    case 'recursive':
      builder.pack(splitToFit(text, 0, text.length, size, RECURSIVE_FINDERS));
      break;
    case 'sentence': {
      const spans: TextSpan[] = [];
      let from = 0;
      for (const cut of [...sentenceBoundaries(text, 0, text.length), text.length]) {
        splitToFit(text, from, cut, size, SENTENCE_PARTS, spans);
        from = cut;
      }
      builder.pack(spans);
      break;
    }
    case 'markdown':
      for (const section of markdownSections(text)) {
        builder.pack(splitToFit(text, section.start, section.end, size, RECURSIVE_FINDERS), section.pathAt);
      }
      break;
  }
  return builder.chunks;
}

/** What to embed for a chunk: its heading path as a first line, then its text. */
export function chunkTextWithContext(chunk: Pick<Chunk, 'text' | 'heading_path'>): string {
  return chunk.heading_path.length === 0 ? chunk.text : `${chunk.heading_path.join(' > ')}\n\n${chunk.text}`;
}

interface Section {
  start: number;
  end: number;
  /** where the section's heading path is read: its last leading heading */
  pathAt: number;
}

/**
 * One section per heading, the text before the first heading being one too. A heading with
 * nothing under it but a sub-heading opens a section that runs on through the sub-heading's.
 */
function markdownSections(text: string): Section[] {
  const sections: Section[] = [{ start: 0, end: text.length, pathAt: 0 }];
  const headings = findMarkdownHeadings(text);
  headings.forEach((heading, i) => {
    const previous = headings[i - 1];
    const current = sections[sections.length - 1];
    const continuesBodyless = previous !== undefined && text.slice(previous.end, heading.start).trim() === '';
    if (continuesBodyless || heading.start === 0) {
      current.pathAt = heading.start;
      return;
    }
    current.end = heading.start;
    sections.push({ start: heading.start, end: text.length, pathAt: heading.start });
  });
  return sections;
}

class ChunkBuilder {
  readonly chunks: Chunk[] = [];

  constructor(
    private readonly text: string,
    private readonly size: number,
    private readonly overlap: number,
    private readonly trail: HeadingTrail,
  ) {}

  /**
   * Packs contiguous spans (each within the size) greedily into chunks, with overlap. Heading
   * paths are read at the chunk's start, or at `pathAt` if that is later.
   */
  pack(spans: readonly TextSpan[], pathAt = 0): void {
    let first = 0;
    while (first < spans.length) {
      let end = first;
      let sum = 0;
      while (end < spans.length && sum + spans[end].tokens <= this.size) sum += spans[end++].tokens;
      if (end === first) end = first + 1;
      // pieces' counts add up to the whole's count except at rare regex edges: check exactly
      while (!this.emit(spans, first, end, pathAt) && end - 1 > first) end--;
      if (end >= spans.length) return;
      let next = end;
      let overlapTokens = 0;
      // repeat trailing spans, but leave room for the next new span so every chunk adds text
      while (
        next - 1 > first &&
        overlapTokens + spans[next - 1].tokens <= this.overlap &&
        overlapTokens + spans[next - 1].tokens + spans[end].tokens <= this.size
      ) {
        overlapTokens += spans[--next].tokens;
      }
      first = next;
    }
  }

  /** Adds `spans[first..after)`, trimmed, as a chunk; false if it turned out over the size. */
  private emit(spans: readonly TextSpan[], first: number, after: number, pathAt: number): boolean {
    const rawStart = spans[first].start;
    const rawEnd = spans[after - 1].end;
    let start = rawStart;
    let end = rawEnd;
    while (start < end && isSpace(this.text.charCodeAt(start))) start++;
    while (end > start && isSpace(this.text.charCodeAt(end - 1))) end--;
    if (start === end) return true;
    const text = this.text.slice(start, end);
    // a lone untrimmed span was counted already (long pieces are cut into such spans)
    const counted = after - first === 1 && start === rawStart && end === rawEnd;
    const tokens = counted ? spans[first].tokens : countTokens(text);
    if (tokens > this.size) return false;
    const last = this.chunks[this.chunks.length - 1];
    // a shrunk chunk (see pack) can end up inside the previous one
    if (last !== undefined && start >= last.start_offset && end <= last.end_offset) return true;
    this.chunks.push({
      position: this.chunks.length,
      text,
      start_offset: start,
      end_offset: end,
      token_count: tokens,
      heading_path: this.trail.at(Math.max(start, pathAt)),
    });
    return true;
  }
}

function isSpace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d) || code === 0xa0 || code === 0x3000 || code === 0xfeff;
}
