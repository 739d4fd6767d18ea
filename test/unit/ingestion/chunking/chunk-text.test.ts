import { Tiktoken } from 'js-tiktoken/lite';
import cl100kBase from 'js-tiktoken/ranks/cl100k_base';
import { describe, expect, it } from 'vitest';
import { ValidationFailedError } from '../../../../src/common/errors';
import {
  Chunk,
  CHUNKER_TYPES,
  chunkText,
  chunkTextWithContext,
  countTokens,
  resolveChunkerSettings,
} from '../../../../src/ingestion/chunking';
import { CHINESE_TEXT, MARKDOWN_DOC } from '../../../fixtures/documents';

const reference = new Tiktoken(cl100kBase);

const ENGLISH = [
  'Retrieval-augmented generation grounds a language model in documents. The documents are split into chunks, e.g. paragraphs, before indexing.',
  'Each chunk is embedded into a vector. At query time the nearest chunks are retrieved! Are they relevant? A grader decides.',
  'Self-RAG adds reflection tokens: the model decides whether to retrieve, grades each passage and checks that its answer is supported. Fig. 3 shows the loop.',
].join('\n\n');

/** Offsets exact, sizes respected, counts real, positions in order, no chunk empty. */
function expectWellFormed(text: string, chunks: Chunk[], size: number): void {
  expect(chunks.length).toBeGreaterThan(0);
  chunks.forEach((chunk, i) => {
    expect(chunk.position).toBe(i);
    expect(text.slice(chunk.start_offset, chunk.end_offset)).toBe(chunk.text);
    expect(chunk.text.trim()).toBe(chunk.text);
    expect(chunk.text.length).toBeGreaterThan(0);
    expect(chunk.token_count).toBe(reference.encode(chunk.text, [], []).length);
    expect(chunk.token_count).toBeLessThanOrEqual(size);
    if (i > 0) expect(chunk.start_offset).toBeGreaterThan(chunks[i - 1].start_offset);
  });
}

/** Every non-space character of the text is in some chunk. */
function expectCovered(text: string, chunks: Chunk[]): void {
  const covered = new Uint8Array(text.length);
  for (const c of chunks) covered.fill(1, c.start_offset, c.end_offset);
  const missed = [...text].filter((ch, i) => !covered[i] && ch.trim() !== '');
  expect(missed.join('')).toBe('');
}

describe('countTokens', () => {
  it('matches tiktoken cl100k_base exactly, special-token text included', () => {
    for (const sample of [ENGLISH, CHINESE_TEXT, MARKDOWN_DOC, 'a  b\n\n\n c <|endoftext|> 12345 🙂']) {
      expect(countTokens(sample)).toBe(reference.encode(sample, [], []).length);
    }
  });
});

describe('chunkText', () => {
  const long = Array.from({ length: 12 }, () => ENGLISH).join('\n\n');

  for (const type of CHUNKER_TYPES) {
    it(`${type}: chunks stay within the size, offsets are exact and the whole text is covered`, () => {
      for (const size of [32, 64, 200]) {
        const chunks = chunkText(long, { type, chunk_size: size, chunk_overlap: Math.floor(size / 4) });
        expectWellFormed(long, chunks, size);
        expectCovered(long, chunks);
      }
    });

    it(`${type}: Chinese text without spaces chunks within the size`, () => {
      const chinese = CHINESE_TEXT.repeat(6);
      const chunks = chunkText(chinese, { type, chunk_size: 40, chunk_overlap: 8 });
      expectWellFormed(chinese, chunks, 40);
      expectCovered(chinese, chunks);
      expect(chunks.length).toBeGreaterThan(5);
    });
  }

  it('fixed: consecutive chunks repeat up to chunk_overlap tokens and fill close to the size', () => {
    const chunks = chunkText(long, { type: 'fixed', chunk_size: 64, chunk_overlap: 16 });
    for (let i = 1; i < chunks.length; i++) {
      const shared = long.slice(chunks[i].start_offset, chunks[i - 1].end_offset);
      expect(chunks[i].start_offset).toBeLessThan(chunks[i - 1].end_offset);
      // overlap is counted piece by piece; the shared text counted on its own may be one more
      expect(countTokens(shared.trim())).toBeLessThanOrEqual(17);
      expect(countTokens(shared.trim())).toBeGreaterThanOrEqual(10);
    }
    for (const chunk of chunks.slice(0, -1)) expect(chunk.token_count).toBeGreaterThanOrEqual(58);
  });

  it('fixed: no overlap means chunks only touch', () => {
    const chunks = chunkText(long, { type: 'fixed', chunk_size: 64, chunk_overlap: 0 });
    for (let i = 1; i < chunks.length; i++) expect(chunks[i].start_offset).toBeGreaterThanOrEqual(chunks[i - 1].end_offset);
  });

  it('recursive: a text that fits is one chunk; longer text breaks at paragraphs first', () => {
    expect(chunkText(ENGLISH, { type: 'recursive', chunk_size: 512, chunk_overlap: 0 })).toHaveLength(1);
    const paragraphs = ENGLISH.split('\n\n');
    const chunks = chunkText(ENGLISH, { type: 'recursive', chunk_size: Math.max(...paragraphs.map(countTokens)) + 1, chunk_overlap: 0 });
    expect(chunks.map((c) => c.text)).toEqual(paragraphs);
  });

  it('sentence: chunks hold whole sentences and overlap by whole sentences', () => {
    const chunks = chunkText(ENGLISH, { type: 'sentence', chunk_size: 48, chunk_overlap: 20 });
    expectWellFormed(ENGLISH, chunks, 48);
    for (const chunk of chunks) expect(chunk.text).toMatch(/[.!?]$/);
    // "e.g. paragraphs" and "Fig. 3" are not sentence ends
    expect(chunks.some((c) => c.text.includes('e.g. paragraphs'))).toBe(true);
    expect(chunks.some((c) => c.text.includes('Fig. 3 shows'))).toBe(true);
    const overlapping = chunks.slice(1).filter((c, i) => c.start_offset < chunks[i].end_offset);
    expect(overlapping.length).toBeGreaterThan(0);
    for (const c of overlapping) expect(c.text).toMatch(/^[A-Z]/);
  });

  it('sentence: Chinese sentences end at 。！？； and are never cut in the middle', () => {
    const chunks = chunkText(CHINESE_TEXT, { type: 'sentence', chunk_size: 40, chunk_overlap: 0 });
    expectWellFormed(CHINESE_TEXT, chunks, 40);
    for (const chunk of chunks) expect(chunk.text).toMatch(/[。！？；]$/u);
    expect(chunks.map((c) => c.text).join('')).toBe(CHINESE_TEXT);
  });

  it('markdown: one section per heading with its heading path; code-block comments are not headings', () => {
    const chunks = chunkText(MARKDOWN_DOC, { type: 'markdown', chunk_size: 256, chunk_overlap: 0 });
    expectWellFormed(MARKDOWN_DOC, chunks, 256);
    expect(chunks.map((c) => c.heading_path)).toEqual([
      ['Deployment'],
      ['Deployment', 'Probes', 'Liveness'],
      ['Deployment', 'Probes', 'Readiness'],
      ['Deployment', 'Scaling'],
    ]);
    // the bodyless "## Probes" heading travels with its first sub-section
    expect(chunks[1].text.startsWith('## Probes\n\n### Liveness')).toBe(true);
    expect(chunks[2].text).toContain('# not a heading');
    expect(chunkTextWithContext(chunks[3])).toBe('Deployment > Scaling\n\n## Scaling\n\nWorkers scale with the queue length.');
  });

  it('markdown: a long section is split within the size and every part keeps the heading path', () => {
    const doc = `# Guide\n\n## Metrics\n\n${ENGLISH.repeat(4)}\n\n## Logs\n\nJSON lines.`;
    const chunks = chunkText(doc, { type: 'markdown', chunk_size: 64, chunk_overlap: 8 });
    expectWellFormed(doc, chunks, 64);
    const metrics = chunks.filter((c) => c.heading_path.join('/') === 'Guide/Metrics');
    expect(metrics.length).toBeGreaterThan(3);
    expect(chunks[chunks.length - 1]).toMatchObject({ text: '## Logs\n\nJSON lines.', heading_path: ['Guide', 'Logs'] });
    for (const c of metrics) expect(c.text).not.toContain('## Logs');
  });

  it('a single huge word or unpunctuated CJK run is still cut within the size', () => {
    const blob = 'x'.repeat(5000) + '汉'.repeat(3000);
    for (const type of CHUNKER_TYPES) expectWellFormed(blob, chunkText(blob, { type, chunk_size: 32, chunk_overlap: 4 }), 32);
  });

  it('text of only white space gives no chunks', () => {
    expect(chunkText(' \n\n\t ', { type: 'recursive' })).toEqual([]);
  });
});

describe('chunker settings', () => {
  it('fills defaults: recursive, 512 tokens, overlap 1/8 of the size', () => {
    expect(resolveChunkerSettings({})).toEqual({ type: 'recursive', chunk_size: 512, chunk_overlap: 64 });
    expect(resolveChunkerSettings({ type: 'sentence', chunk_size: 256 })).toEqual({ type: 'sentence', chunk_size: 256, chunk_overlap: 32 });
  });

  it('names every wrong field', () => {
    try {
      resolveChunkerSettings({ type: 'semantic', chunk_size: 10, chunk_overlap: -1, colour: 'red' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationFailedError);
      expect((error as ValidationFailedError).errors.map((e) => e.field).sort()).toEqual([
        'chunker.chunk_overlap',
        'chunker.chunk_size',
        'chunker.colour',
        'chunker.type',
      ]);
    }
    expect(() => resolveChunkerSettings({ chunk_size: 9000 })).toThrow(/chunk_size/);
    expect(() => resolveChunkerSettings({ chunk_size: 100, chunk_overlap: 50 })).toThrow(/less than half/);
    expect(() => chunkText('x', { type: 'fixed', chunk_size: 64, chunk_overlap: 64 })).toThrow(ValidationFailedError);
  });
});
