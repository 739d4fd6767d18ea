import { countTokens as countPieceTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import cl100kBase from 'js-tiktoken/ranks/cl100k_base';

/**
 * Token counting with OpenAI's cl100k_base BPE (the encoding of text-embedding-3-* and
 * text-embedding-ada-002).
 *
 * tiktoken first splits text into "pieces" with a regex and encodes each piece on its own, so a
 * text's token count is the sum of its pieces' counts. We split with cl100k_base's own pattern
 * (from js-tiktoken's rank table) and count each piece with gpt-tokenizer, whose BPE is fast on
 * short pieces (js-tiktoken's merge loop takes ~60 ms for 128 Chinese characters, gpt-tokenizer
 * ~1 ms). Both rescan the whole piece for every merge, which is quadratic: a run of letters or
 * CJK without punctuation is one piece, so long pieces go to a heap-based merge of our own
 * (`countLongPiece`), which makes the same merges in O(n log n). A cache of piece counts makes
 * repeated words free. The result equals js-tiktoken's `encode(text).length` (tested).
 */
export const TOKENIZER_ENCODING = 'cl100k_base';

/**
 * No cl100k_base token is longer than 128 bytes (a run of spaces), so none covers more than 128
 * UTF-16 code units: a text of n code units has at least n / 128 tokens (checked in the tests).
 */
export const MAX_TOKEN_CHARS = 128;

/** A tiktoken piece: `text.slice(start, end)`, encoded to `tokens` tokens. */
export interface TokenPiece {
  start: number;
  end: number;
  tokens: number;
}

const PIECE_CACHE_LIMIT = 200_000;
/** longer pieces are rare (runs of CJK or symbols) and not worth caching */
const CACHEABLE_PIECE_LENGTH = 48;
/** below this, gpt-tokenizer's quadratic merge is the faster one (measured) */
const LONG_PIECE_LENGTH = 48;

const piecePattern = new RegExp(cl100kBase.pat_str, 'gu');
const pieceCounts = new Map<string, number>();

function countPiece(piece: string): number {
  if (piece.length > LONG_PIECE_LENGTH) return countLongPiece(piece);
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

/**
 * The token count of `text.slice(start, end)` if it is at most `limit`, else some number above
 * `limit`. Stops at the first piece past the limit and never encodes a piece too long to fit, so
 * the work is bounded by the limit rather than by the length of the range.
 */
export function countTokensUpTo(text: string, start: number, end: number, limit: number): number {
  if (end - start > limit * MAX_TOKEN_CHARS) return limit + 1;
  const slice = start === 0 && end === text.length ? text : text.slice(start, end);
  let total = 0;
  piecePattern.lastIndex = 0;
  for (let m = piecePattern.exec(slice); m !== null; m = piecePattern.exec(slice)) {
    if (m[0].length > (limit - total) * MAX_TOKEN_CHARS) return limit + 1;
    total += countPiece(m[0]);
    if (total > limit) return limit + 1;
  }
  return total;
}

/**
 * The tiktoken pieces of `text.slice(from, to)` with offsets into `text`. A piece too long to
 * hold at most `limit` tokens is not encoded: its `tokens` is Infinity.
 */
export function tokenPieces(text: string, from = 0, to = text.length, limit = Infinity): TokenPiece[] {
  const slice = from === 0 && to === text.length ? text : text.slice(from, to);
  const pieces: TokenPiece[] = [];
  piecePattern.lastIndex = 0;
  for (let m = piecePattern.exec(slice); m !== null; m = piecePattern.exec(slice)) {
    const tokens = m[0].length > limit * MAX_TOKEN_CHARS ? Infinity : countPiece(m[0]);
    pieces.push({ start: from + m.index, end: from + m.index + m[0].length, tokens });
  }
  return pieces;
}

interface MergeTables {
  /** rank by the token's bytes as a latin1 string */
  byBytes: Map<string, number>;
  /** rank of each single byte */
  byByte: Int32Array;
  /** bytes of each rank as a latin1 string */
  bytesOf: string[];
}

let mergeTables: MergeTables | undefined;

/** Built on the first piece counted here (~100k tokens, ~50 ms). */
function tables(): MergeTables {
  if (mergeTables !== undefined) return mergeTables;
  const byBytes = new Map<string, number>();
  const bytesOf: string[] = [];
  for (const line of cl100kBase.bpe_ranks.split('\n')) {
    const [, offset, ...tokens] = line.split(' ');
    if (offset === undefined) continue;
    const first = Number.parseInt(offset, 10);
    tokens.forEach((token, i) => {
      const bytes = Buffer.from(token, 'base64').toString('latin1');
      byBytes.set(bytes, first + i);
      bytesOf[first + i] = bytes;
    });
  }
  const byByte = new Int32Array(256);
  for (let b = 0; b < 256; b++) byByte[b] = byBytes.get(String.fromCharCode(b))!;
  mergeTables = { byBytes, byByte, bytesOf };
  return mergeTables;
}

const MERGE_CACHE_LIMIT = 1_000_000;
/** by left rank, then right rank: the rank two adjacent tokens merge into, -1 if none */
let merges = new Map<number, Map<number, number>>();
let mergesCached = 0;

function mergedRank(left: number, right: number, t: MergeTables): number {
  let byRight = merges.get(left);
  const cached = byRight?.get(right);
  if (cached !== undefined) return cached;
  const rank = t.byBytes.get(t.bytesOf[left] + t.bytesOf[right]) ?? -1;
  if (mergesCached >= MERGE_CACHE_LIMIT) {
    merges = new Map();
    mergesCached = 0;
    byRight = undefined;
  }
  if (byRight === undefined) merges.set(left, (byRight = new Map()));
  byRight.set(right, rank);
  mergesCached++;
  return rank;
}

/**
 * tiktoken's byte-pair merge (always merge the adjacent pair of lowest rank, leftmost first),
 * with the pairs in a binary heap and the parts in a linked list instead of a rescan per merge.
 * Every part is a token, so a pair's merge is looked up (and cached) by the two ranks.
 * Returns the number of tokens.
 */
function countLongPiece(piece: string): number {
  const t = tables();
  const bytes = Buffer.from(piece, 'utf8');
  const n = bytes.length;
  if (n <= MAX_TOKEN_CHARS && t.byBytes.has(bytes.toString('latin1'))) return 1;
  // a part starts at every byte at first; next[i] is where the part after the one at i starts
  const next = new Int32Array(n + 1);
  const prev = new Int32Array(n + 1);
  const partRank = new Int32Array(n + 1);
  /** rank of merging part i with the next, or -1; a heap entry is stale unless it matches */
  const pairRank = new Int32Array(n + 1).fill(-1);
  for (let i = 0; i <= n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
    if (i < n) partRank[i] = t.byByte[bytes[i]];
  }
  const heap = new PairHeap(3 * n);
  const rankPair = (i: number): void => {
    const rank = next[i] < n ? mergedRank(partRank[i], partRank[next[i]], t) : -1;
    pairRank[i] = rank;
    if (rank >= 0) heap.push(rank, i);
  };
  for (let i = 0; i < n - 1; i++) rankPair(i);
  let parts = n;
  while (heap.size > 0) {
    const rank = heap.topRank;
    const i = heap.topPosition;
    heap.pop();
    if (pairRank[i] !== rank) continue;
    const removed = next[i];
    next[i] = next[removed];
    prev[next[i]] = i;
    pairRank[removed] = -1;
    partRank[i] = rank;
    parts--;
    rankPair(i);
    if (prev[i] >= 0) rankPair(prev[i]);
  }
  return parts;
}

/** Min-heap of (rank, position) pairs, ordered by rank, then position. */
class PairHeap {
  private readonly ranks: Int32Array;
  private readonly positions: Int32Array;
  size = 0;

  /** `capacity`: pushes before the heap empties; a merge pushes at most two pairs */
  constructor(capacity: number) {
    this.ranks = new Int32Array(capacity + 1);
    this.positions = new Int32Array(capacity + 1);
  }

  get topRank(): number {
    return this.ranks[0];
  }

  get topPosition(): number {
    return this.positions[0];
  }

  push(rank: number, position: number): void {
    const { ranks, positions } = this;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (ranks[parent] < rank || (ranks[parent] === rank && positions[parent] < position)) break;
      ranks[i] = ranks[parent];
      positions[i] = positions[parent];
      i = parent;
    }
    ranks[i] = rank;
    positions[i] = position;
  }

  pop(): void {
    const { ranks, positions } = this;
    const size = --this.size;
    const rank = ranks[size];
    const position = positions[size];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      const right = child + 1;
      if (right < size && (ranks[right] < ranks[child] || (ranks[right] === ranks[child] && positions[right] < positions[child]))) {
        child = right;
      }
      if (rank < ranks[child] || (rank === ranks[child] && position < positions[child])) break;
      ranks[i] = ranks[child];
      positions[i] = positions[child];
      i = child;
    }
    ranks[i] = rank;
    positions[i] = position;
  }
}
