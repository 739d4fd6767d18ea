import { Tiktoken } from 'js-tiktoken/lite';
import cl100kBase from 'js-tiktoken/ranks/cl100k_base';

/**
 * Token counting with OpenAI's cl100k_base BPE (the encoding of text-embedding-3-* and
 * text-embedding-ada-002), through js-tiktoken's lite build so only one rank table is loaded.
 *
 * tiktoken first splits text into "pieces" with a regex and encodes each piece on its own, so a
 * text's token count is the sum of its pieces' counts. Counting piece by piece with a cache of
 * piece counts gives exactly `encode(text).length` about 4–15× faster on real corpora (repeated
 * words are counted once).
 */
export const TOKENIZER_ENCODING = 'cl100k_base';

/** A tiktoken piece: `text.slice(start, end)`, encoded to `tokens` tokens. */
export interface TokenPiece {
  start: number;
  end: number;
  tokens: number;
}

const PIECE_CACHE_LIMIT = 200_000;
/** longer pieces are rare (runs of CJK or symbols) and not worth caching */
const CACHEABLE_PIECE_LENGTH = 48;

let encoder: Tiktoken | undefined;
let piecePattern: RegExp | undefined;
const pieceCounts = new Map<string, number>();

function load(): { encoder: Tiktoken; pattern: RegExp } {
  if (!encoder || !piecePattern) {
    encoder = new Tiktoken(cl100kBase);
    piecePattern = new RegExp(cl100kBase.pat_str, 'gu');
  }
  return { encoder, pattern: piecePattern };
}

/** Loads the rank table now (about 0.5 s) instead of on the first count. */
export function warmUpTokenizer(): void {
  load();
}

function countPiece(enc: Tiktoken, piece: string): number {
  const cached = pieceCounts.get(piece);
  if (cached !== undefined) return cached;
  // no special tokens: "<|endoftext|>" in a document is ordinary text here
  const count = enc.encode(piece, [], []).length;
  if (piece.length <= CACHEABLE_PIECE_LENGTH) {
    if (pieceCounts.size >= PIECE_CACHE_LIMIT) pieceCounts.clear();
    pieceCounts.set(piece, count);
  }
  return count;
}

/** Exact cl100k_base token count of `text` (special-token text counted as ordinary text). */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  const { encoder: enc, pattern } = load();
  let total = 0;
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    total += countPiece(enc, m[0]);
  }
  return total;
}

/** The tiktoken pieces of `text.slice(from, to)` with offsets into `text`. */
export function tokenPieces(text: string, from = 0, to = text.length): TokenPiece[] {
  const { encoder: enc, pattern } = load();
  const slice = from === 0 && to === text.length ? text : text.slice(from, to);
  const pieces: TokenPiece[] = [];
  pattern.lastIndex = 0;
  for (let m = pattern.exec(slice); m !== null; m = pattern.exec(slice)) {
    pieces.push({ start: from + m.index, end: from + m.index + m[0].length, tokens: countPiece(enc, m[0]) });
  }
  return pieces;
}
