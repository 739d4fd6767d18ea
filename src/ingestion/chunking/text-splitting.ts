import { countTokens, tokenPieces } from './tokenizer';

/** A range of the text, `text.slice(start, end)`, and its token count. */
export interface TextSpan {
  start: number;
  end: number;
  tokens: number;
}

/** Where a range may be cut, finest last. Each returns cut offsets strictly inside the range. */
export type BoundaryFinder = (text: string, start: number, end: number) => number[];

/** Cuts after each match of `pattern`, or before it with `before`. */
function cutsAt(pattern: RegExp, before = false): BoundaryFinder {
  return (text, start, end) => {
    const cuts: number[] = [];
    const re = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
    re.lastIndex = start;
    for (let m = re.exec(text); m !== null && m.index < end; m = re.exec(text)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      const cut = before ? m.index : m.index + m[0].length;
      if (cut > start && cut < end) cuts.push(cut);
    }
    return cuts;
  };
}

/** Blank lines end a paragraph; the blank run stays with the paragraph before it. */
export const paragraphBoundaries = cutsAt(/\n[ \t]*\n\s*/u);
export const lineBoundaries = cutsAt(/\n/u);
/** Clause punctuation, Chinese and Latin: the last resort before words for long sentences. */
export const clauseBoundaries = cutsAt(/[，、,;：:]+/u);
/** Before white space, as tiktoken joins a space to the word after it (" word" is one token). */
export const wordBoundaries = cutsAt(/\s+/u, true);

const CJK_SENTENCE_END = /[。！？；…]+[”’"'）)\]」』》]*/u.source;
const LATIN_SENTENCE_END = /[.!?]+[”’"')\]]*(?=\s|$)/u.source;
const BLANK_LINE = /\n[ \t]*\n\s*/u.source;
const SENTENCE_END = new RegExp(`${CJK_SENTENCE_END}|${LATIN_SENTENCE_END}|${BLANK_LINE}`, 'gu');

/**
 * Sentence ends: Chinese `。！？；…` (no space needed after them), Latin `.!?` followed by
 * white space, and blank lines. A full stop followed by a lower-case letter or a digit is taken
 * for an abbreviation or a number ("e.g. the", "Fig. 3") and not cut.
 */
export const sentenceBoundaries: BoundaryFinder = (text, start, end) => {
  const cuts: number[] = [];
  SENTENCE_END.lastIndex = start;
  for (let m = SENTENCE_END.exec(text); m !== null && m.index < end; m = SENTENCE_END.exec(text)) {
    const cut = m.index + m[0].length;
    if (m[0].startsWith('.') && /^\s+[\p{Ll}\p{N}]/u.test(text.slice(cut, cut + 8))) continue;
    if (cut > start && cut < end) cuts.push(cut);
  }
  return cuts;
};

/**
 * Splits `text.slice(start, end)` into spans of at most `maxTokens` tokens, trying each finder in
 * turn (coarsest first) and falling back to tiktoken pieces, then characters. Spans that fit are
 * kept whole; only oversized ones are split further. Spans are contiguous and cover the range.
 */
export function splitToFit(
  text: string,
  start: number,
  end: number,
  maxTokens: number,
  finders: readonly BoundaryFinder[],
  out: TextSpan[] = [],
): TextSpan[] {
  if (start >= end) return out;
  const tokens = countTokens(text.slice(start, end));
  if (tokens <= maxTokens) {
    out.push({ start, end, tokens });
    return out;
  }
  for (let level = 0; level < finders.length; level++) {
    const cuts = finders[level](text, start, end);
    if (cuts.length === 0) continue;
    const rest = finders.slice(level + 1);
    let from = start;
    for (const cut of [...cuts, end]) {
      splitToFit(text, from, cut, maxTokens, rest, out);
      from = cut;
    }
    return out;
  }
  return splitIntoPieces(text, start, end, maxTokens, out);
}

/** tiktoken pieces as spans; a piece longer than `maxTokens` (a long CJK run) is cut by characters. */
export function splitIntoPieces(text: string, start: number, end: number, maxTokens: number, out: TextSpan[] = []): TextSpan[] {
  for (const piece of tokenPieces(text, start, end)) {
    if (piece.tokens <= maxTokens) out.push(piece);
    else splitByCharacters(text, piece.start, piece.end, maxTokens, out);
  }
  return out;
}

const MAX_CHARS_PER_TOKEN = 16;

function splitByCharacters(text: string, start: number, end: number, maxTokens: number, out: TextSpan[]): void {
  let from = start;
  while (from < end) {
    // the longest prefix that fits, by binary search over its end; no cl100k token is longer
    // than ~128 characters, so the search window stays proportional to maxTokens
    let lo = from + 1;
    let hi = Math.min(end, from + maxTokens * MAX_CHARS_PER_TOKEN);
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (countTokens(text.slice(from, mid)) <= maxTokens) lo = mid;
      else hi = mid - 1;
    }
    let cut = lo;
    if (cut < end && isLowSurrogate(text.charCodeAt(cut)) && cut - 1 > from) cut--;
    out.push({ start: from, end: cut, tokens: countTokens(text.slice(from, cut)) });
    from = cut;
  }
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
