import { countTokens, countTokensUpTo, tokenPieces } from '../../text/tokenizer';

/** A range of the text, `text.slice(start, end)`, and its token count. */
export interface TextSpan {
  start: number;
  end: number;
  tokens: number;
}

/** Where a range may be cut, finest last. Each returns cut offsets strictly inside the range. */
export type BoundaryFinder = (text: string, start: number, end: number) => number[];

/**
 * Cuts after each match of `pattern`, or before it with `before`. Only the range is searched (a
 * search of the whole text from `start` would run on to the next match, maybe far past `end`,
 * which made splitting quadratic on text with few matches).
 */
function cutsAt(pattern: RegExp, before = false): BoundaryFinder {
  const re = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
  return (text, start, end) => {
    const cuts: number[] = [];
    const range = text.slice(start, end);
    re.lastIndex = 0;
    for (let m = re.exec(range); m !== null; m = re.exec(range)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      const cut = start + (before ? m.index : m.index + m[0].length);
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
// the look-behind tries a run of full stops once, from its start: retried from inside the run,
// the look-ahead failed again for each position, which was quadratic on a long run of dots
const LATIN_SENTENCE_END = /(?<![.!?])[.!?]+[”’"')\]]*(?=\s|$)/u.source;
const BLANK_LINE = /\n[ \t]*\n\s*/u.source;
const SENTENCE_END = new RegExp(`${CJK_SENTENCE_END}|${LATIN_SENTENCE_END}|${BLANK_LINE}`, 'gu');

/**
 * Sentence ends: Chinese `。！？；…` (no space needed after them), Latin `.!?` followed by
 * white space, and blank lines. A full stop followed by a lower-case letter or a digit is taken
 * for an abbreviation or a number ("e.g. the", "Fig. 3") and not cut.
 */
export const sentenceBoundaries: BoundaryFinder = (text, start, end) => {
  const cuts: number[] = [];
  const range = text.slice(start, end);
  SENTENCE_END.lastIndex = 0;
  for (let m = SENTENCE_END.exec(range); m !== null; m = SENTENCE_END.exec(range)) {
    const cut = start + m.index + m[0].length;
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
  const tokens = countTokensUpTo(text, start, end, maxTokens);
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
  for (const piece of tokenPieces(text, start, end, maxTokens)) {
    if (piece.tokens <= maxTokens) out.push(piece);
    else splitByCharacters(text, piece.start, piece.end, maxTokens, out);
  }
  return out;
}

/** the longest prefix tried for a cut is this many characters per token of the size */
const SEARCH_CHARS_PER_TOKEN = 16;

/**
 * Cuts a piece into the longest prefixes that fit. Each cut is searched between a prefix known to
 * fit and one known not to, probing where the previous counts say the limit falls, so a cut
 * costs a few counts of about a chunk's length whatever the length of the piece. A piece longer
 * than the search window is no word or clause of a real text: there a cut within the last
 * sixteenth of the size will do, which is most often the first one tried.
 */
function splitByCharacters(text: string, start: number, end: number, maxTokens: number, out: TextSpan[]): void {
  const window = maxTokens * SEARCH_CHARS_PER_TOKEN;
  const closeEnough = end - start > window ? maxTokens - (maxTokens >> 4) : maxTokens;
  const target = (closeEnough + maxTokens) / 2;
  let charsPerToken = 1;
  let from = start;
  while (from < end) {
    let fits = from + 1;
    let fitsTokens: number | undefined;
    let overflows = Math.min(end, from + window) + 1;
    let guess = from + Math.round(target * charsPerToken);
    for (let probes = 0; overflows - fits > 1; probes++) {
      // estimates can creep towards the limit; after a few, halve the interval instead
      const probe = probes < 4 ? Math.min(Math.max(guess, fits + 1), overflows - 1) : (fits + overflows) >> 1;
      const tokens = countTokensUpTo(text, from, probe, 2 * maxTokens);
      if (tokens <= maxTokens) {
        fits = probe;
        fitsTokens = tokens;
        if (tokens >= closeEnough) break;
      } else overflows = probe;
      guess = tokens === maxTokens ? probe + 1 : from + Math.floor(((probe - from) * target) / Math.max(tokens, 1));
    }
    let cut = fits;
    if (cut < end && isLowSurrogate(text.charCodeAt(cut)) && cut - 1 > from) cut--;
    const tokens = cut === fits && fitsTokens !== undefined ? fitsTokens : countTokens(text.slice(from, cut));
    out.push({ start: from, end: cut, tokens });
    charsPerToken = (cut - from) / Math.max(tokens, 1);
    from = cut;
  }
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
