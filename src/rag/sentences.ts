/**
 * Splits text into sentences for the extractive answerer and the support grader.
 * Ends: `。！？；` (Chinese, no space needed), `.!?` followed by whitespace or the end, and
 * line breaks. Not an end: decimals (`3.5`), common abbreviations (`e.g.`, `Dr.`), initials.
 */
export interface Sentence {
  text: string;
  /** offset of the sentence's first character in the source text */
  start: number;
}

const ABBREVIATIONS = new Set([
  'e.g',
  'i.e',
  'etc',
  'vs',
  'cf',
  'al',
  'dr',
  'mr',
  'mrs',
  'ms',
  'prof',
  'fig',
  'no',
  'vol',
  'approx',
  'inc',
  'ltd',
  'jr',
  'sr',
  'st',
]);
const CJK_END = new Set(['。', '！', '？', '；', '!', '?']);
const CLOSERS = new Set(['"', "'", '”', '’', '」', '』', ')', '）', ']', '】']);
const MAX_SENTENCE_CHARS = 1000;

export function splitSentences(text: string): Sentence[] {
  const sentences: Sentence[] = [];
  let start = 0;
  const push = (end: number) => {
    const raw = text.slice(start, end);
    const trimmed = raw.trim();
    if (trimmed.length > 0 && /[\p{L}\p{N}]/u.test(trimmed)) {
      for (let offset = 0; offset < trimmed.length; offset += MAX_SENTENCE_CHARS) {
        sentences.push({ text: trimmed.slice(offset, offset + MAX_SENTENCE_CHARS), start: start + raw.indexOf(trimmed) + offset });
      }
    }
    start = end;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n') {
      push(i + 1);
      continue;
    }
    const isCjkEnd = CJK_END.has(ch) && (ch !== '!' && ch !== '?' ? true : isBoundaryAfter(text, i));
    const isPeriodEnd = ch === '.' && isBoundaryAfter(text, i) && !isAbbreviation(text, i);
    if (!isCjkEnd && !isPeriodEnd) continue;
    let end = i + 1;
    while (end < text.length && (CLOSERS.has(text[end]) || CJK_END.has(text[end]) || text[end] === '.')) end++;
    push(end);
    i = end - 1;
  }
  push(text.length);
  return sentences;
}

/** whitespace, a closing quote/bracket then whitespace, or the end of the text */
function isBoundaryAfter(text: string, i: number): boolean {
  let j = i + 1;
  while (j < text.length && CLOSERS.has(text[j])) j++;
  return j >= text.length || /\s/.test(text[j]) || /[\p{Script=Han}]/u.test(text[j]);
}

function isAbbreviation(text: string, dot: number): boolean {
  const before = /([\p{L}.]+)$/u.exec(text.slice(Math.max(0, dot - 12), dot))?.[1]?.toLowerCase() ?? '';
  if (before.length === 1 && /\p{Lu}/u.test(text[dot - 1])) return true; // an initial: "J. Smith"
  return ABBREVIATIONS.has(before);
}
