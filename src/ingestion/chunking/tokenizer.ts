import { countTokens as countPieceTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import cl100kBase from 'js-tiktoken/ranks/cl100k_base';

/**
 * Token counting with OpenAI's cl100k_base BPE (the encoding of text-embedding-3-* and
 * text-embedding-ada-002).
 *
 * tiktoken first splits text into "pieces" with a regex and encodes each piece on its own, so a
 * text's token count is the sum of its pieces' counts. We split with cl100k_base's own pattern
 * (from js-tiktoken's rank table) and count each piece with gpt-tokenizer, whose BPE stays fast
 * on long pieces (a run of Chinese without punctuation is one piece: js-tiktoken's merge loop
 * takes ~60 ms for 128 such characters, gpt-tokenizer ~1 ms). A cache of piece counts makes
 * repeated words free. The result equals js-tiktoken's `encode(text).length` (tested).
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

const piecePattern = new RegExp(cl100kBase.pat_str, 'gu');
const pieceCounts = new Map<string, number>();

function countPiece(piece: string): number {
  const cached = pieceCounts.get(piece);
  if (cached !== undefined) return cached;
  // a piece never holds a whole special token ("<|endoftext|>" splits into "<|", "endoftext", "|>")
  const count = countPieceTokens(piece);
  if (piece.length <= CACHEABLE_PIECE_LENGTH) {
    if (pieceCounts.size >= PIECE_CACHE_LIMIT) pieceCounts.clear();
    pieceCounts.set(piece, count);
  }
  return count;
}

/** Exact cl100k_base token count of `text` (special-token text counted as ordinary text). */
export function countTokens(text: string): number {
  let total = 0;
  piecePattern.lastIndex = 0;
  for (let m = piecePattern.exec(text); m !== null; m = piecePattern.exec(text)) total += countPiece(m[0]);
  return total;
}

/** The tiktoken pieces of `text.slice(from, to)` with offsets into `text`. */
export function tokenPieces(text: string, from = 0, to = text.length): TokenPiece[] {
  const slice = from === 0 && to === text.length ? text : text.slice(from, to);
  const pieces: TokenPiece[] = [];
  piecePattern.lastIndex = 0;
  for (let m = piecePattern.exec(slice); m !== null; m = piecePattern.exec(slice)) {
    pieces.push({ start: from + m.index, end: from + m.index + m[0].length, tokens: countPiece(m[0]) });
  }
  return pieces;
}
