/**
 * Texts with few or no split points, the shapes that made chunking quadratic. Deterministic for
 * a seed; a different seed gives a different text of the same shape (so caches of word counts
 * cannot make a second run look faster than the first).
 */
export const HOSTILE_SHAPES = {
  /** one word, one letter repeated */
  word: (length: number) => 'a'.repeat(length),
  /** one word of random letters */
  letters: (length: number, seed = 1) => randomText(length, LATIN, seed),
  /** Chinese without punctuation */
  chinese: (length: number, seed = 1) => randomText(length, HAN, seed),
  /** Japanese (kana and kanji) without punctuation */
  japanese: (length: number, seed = 1) => randomText(length, [...HIRAGANA, ...KATAKANA, ...HAN.slice(0, 500)], seed),
  /** one line of words and spaces, no newline and no punctuation */
  line: (length: number, seed = 1) => wordsLine(length, seed),
  /** a run of full stops (a long run of one character that the sentence finder looks at) */
  dots: (length: number) => '.'.repeat(length),
  /** markdown: two headings, then one huge heading-less section on one line */
  markdown: (length: number, seed = 1) => {
    const head = '# Guide\n\n## Part\n\n';
    return head + wordsLine(length - head.length, seed);
  },
  /** one ATX heading line whose title holds a long run of spaces */
  heading: (length: number) => `# a${' '.repeat(Math.max(0, length - 4))}b`,
} satisfies Record<string, (length: number, seed?: number) => string>;

export type HostileShape = keyof typeof HOSTILE_SHAPES;

const range = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => String.fromCharCode(from + i));
const LATIN = range(0x61, 0x7a);
const HAN = range(0x4e00, 0x4e00 + 2999);
const HIRAGANA = range(0x3041, 0x3093);
const KATAKANA = range(0x30a1, 0x30f3);

/** A small linear congruential generator: the same text for the same seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function randomText(length: number, alphabet: readonly string[], seed: number): string {
  const next = random(seed);
  const codes = new Uint16Array(length);
  for (let i = 0; i < length; i++) codes[i] = alphabet[Math.floor(next() * alphabet.length)].charCodeAt(0);
  return Buffer.from(codes.buffer).toString('utf16le');
}

function wordsLine(length: number, seed: number): string {
  const next = random(seed);
  const codes = new Uint16Array(length);
  let wordLeft = 0;
  for (let i = 0; i < length; i++) {
    if (wordLeft === 0) {
      codes[i] = 0x20;
      wordLeft = 4 + Math.floor(next() * 12);
    } else {
      codes[i] = 0x61 + Math.floor(next() * 26);
      wordLeft--;
    }
  }
  return Buffer.from(codes.buffer).toString('utf16le');
}
