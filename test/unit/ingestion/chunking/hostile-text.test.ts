import { Tiktoken } from 'js-tiktoken/lite';
import cl100kBase from 'js-tiktoken/ranks/cl100k_base';
import { describe, expect, it } from 'vitest';
import { Chunk, CHUNKER_TYPES, chunkText, countTokens } from '../../../../src/ingestion/chunking';
import { findMarkdownHeadings } from '../../../../src/ingestion/chunking/markdown-headings';
import { MAX_TOKEN_CHARS } from '../../../../src/text/tokenizer';
import { HOSTILE_SHAPES, HostileShape } from './hostile-texts';

const reference = new Tiktoken(cl100kBase);
const SIZE = 128;

/** Offsets exact and in order, every chunk within the size, every non-space character covered. */
function expectSoundChunks(text: string, chunks: Chunk[]): void {
  expect(chunks.length).toBeGreaterThan(0);
  const covered = new Uint8Array(text.length);
  chunks.forEach((chunk, i) => {
    expect(chunk.position).toBe(i);
    expect(chunk.end_offset).toBeGreaterThan(chunk.start_offset);
    expect(text.slice(chunk.start_offset, chunk.end_offset)).toBe(chunk.text);
    expect(chunk.token_count).toBe(countTokens(chunk.text));
    expect(chunk.token_count).toBeLessThanOrEqual(SIZE);
    if (i > 0) expect(chunk.start_offset).toBeGreaterThan(chunks[i - 1].start_offset);
    covered.fill(1, chunk.start_offset, chunk.end_offset);
  });
  for (let i = 0; i < text.length; i++) {
    if (!covered[i] && text[i].trim() !== '') throw new Error(`offset ${i} (${JSON.stringify(text[i])}) is in no chunk`);
  }
  // the counts of the first and last chunks agree with tiktoken itself (whose merge is
  // quadratic: a chunk of a run of dots is ~8,000 characters in one piece, too slow to check)
  for (const chunk of [chunks[0], chunks[chunks.length - 1]]) {
    if (chunk.text.length <= 2000) expect(chunk.token_count).toBe(reference.encode(chunk.text, [], []).length);
  }
}

describe('hostile texts chunk soundly', () => {
  for (const shape of Object.keys(HOSTILE_SHAPES) as HostileShape[]) {
    it(`${shape}: every chunker covers the text in chunks within the size`, () => {
      const text = HOSTILE_SHAPES[shape](60_000, 5);
      for (const type of CHUNKER_TYPES) expectSoundChunks(text, chunkText(text, { type, chunk_size: SIZE, chunk_overlap: 16 }));
    });
  }

  it('a piece longer than the search window is cut close to the size', () => {
    const text = HOSTILE_SHAPES.chinese(20_000, 6);
    const chunks = chunkText(text, { type: 'fixed', chunk_size: SIZE, chunk_overlap: 0 });
    for (const chunk of chunks.slice(0, -1)) expect(chunk.token_count).toBeGreaterThanOrEqual(SIZE - SIZE / 16);
  });
});

describe('countTokens on long pieces', () => {
  const samples: Record<string, string> = {
    letters: HOSTILE_SHAPES.letters(1500, 7),
    run: 'a'.repeat(1500),
    chinese: HOSTILE_SHAPES.chinese(600, 7),
    japanese: HOSTILE_SHAPES.japanese(600, 7),
    spaces: ' '.repeat(1000) + 'x',
    dashes: '-'.repeat(1500),
    emoji: '🙂😀🚀'.repeat(200),
    cyrillic: 'съешьжеещёэтихмягкихфранцузскихбулок'.repeat(30),
  };
  for (const [name, text] of Object.entries(samples)) {
    it(`${name}: equals tiktoken's count`, () => {
      expect(countTokens(text)).toBe(reference.encode(text, [], []).length);
    });
  }

  it('no cl100k_base token is longer than MAX_TOKEN_CHARS bytes (the bound that skips counting)', () => {
    let longest = 0;
    for (const line of cl100kBase.bpe_ranks.split('\n')) {
      for (const token of line.split(' ').slice(2)) longest = Math.max(longest, Buffer.from(token, 'base64').length);
    }
    expect(longest).toBe(MAX_TOKEN_CHARS);
  });
});

describe('ATX headings', () => {
  /** the pattern the heading reader replaced, quadratic on blank runs but the specification */
  const ATX_HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/u;

  it('are read as the ATX pattern reads them, on random lines', () => {
    let seed = 11;
    const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const alphabet = [' ', ' ', '\t', '#', '#', '#', 'a', 'b', '\r', '\u2028', '\u00a0'];
    for (let i = 0; i < 50_000; i++) {
      const line = Array.from({ length: Math.floor(next() * 14) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
      const match = ATX_HEADING.exec(line);
      const expected =
        match && match[2].trim() !== '' ? [{ level: match[1].length, title: match[2].trim(), start: 0, end: line.length }] : [];
      expect(findMarkdownHeadings(line), JSON.stringify(line)).toEqual(expected);
    }
  });
});

describe('a heading of megabytes', () => {
  it('is cut to MAX_HEADING_TITLE_CHARS, so the chunks under it do not each carry it', async () => {
    const { chunkText } = await import('../../../../src/ingestion/chunking');
    const { MAX_HEADING_TITLE_CHARS } = await import('../../../../src/ingestion/chunking/markdown-headings');
    const text = `# a${' word'.repeat(200_000)}\n\nbody text under it`;
    const [heading] = findMarkdownHeadings(text);
    expect(heading.title).toHaveLength(MAX_HEADING_TITLE_CHARS);
    const chunks = chunkText(text, { type: 'markdown', chunk_size: 256, chunk_overlap: 0 });
    expect(chunks.length).toBeGreaterThan(100);
    for (const chunk of chunks) for (const title of chunk.heading_path) expect(title.length).toBeLessThanOrEqual(MAX_HEADING_TITLE_CHARS);
  });
});
