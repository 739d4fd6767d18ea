import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chunkText, countTokens, type ChunkerSettings } from '../../../src/ingestion/chunking';
import { InProcessTextChunker, ThreadedTextChunker } from '../../../src/ingestion/chunking/text-chunker';
import { CHINESE_TEXT, MARKDOWN_DOC } from '../../fixtures/documents';
import { REPO_ROOT } from '../../support/service-process';

const SAMPLES: Array<[string, Partial<ChunkerSettings>]> = [
  [MARKDOWN_DOC, { type: 'markdown', chunk_size: 64, chunk_overlap: 0 }],
  [CHINESE_TEXT, { type: 'recursive', chunk_size: 48, chunk_overlap: 8 }],
  ['Self-RAG grades each passage. '.repeat(60), { type: 'fixed', chunk_size: 40, chunk_overlap: 10 }],
];

describe('TextChunker', () => {
  const threaded = new ThreadedTextChunker();
  const inProcess = new InProcessTextChunker();
  afterAll(() => threaded.close());

  it('chunks and counts on its thread exactly as the chunking functions do here', async () => {
    for (const [text, settings] of SAMPLES) {
      const expected = chunkText(text, settings);
      expect(await threaded.chunk(text, settings)).toEqual(expected);
      expect(await inProcess.chunk(text, settings)).toEqual(expected);
    }
    const texts = SAMPLES.map(([text]) => text);
    expect(await threaded.countTokens(texts)).toEqual(texts.map((text) => countTokens(text)));
    expect(await inProcess.countTokens(texts)).toEqual(texts.map((text) => countTokens(text)));
    expect(await threaded.countTokens([])).toEqual([]);
  });

  it('keeps the tokenizer out of the calling thread (built service: no tokenizer module loaded there)', () => {
    // the built code in a fresh process: chunk and count through the threaded chunker, then list
    // the tokenizer modules that process's main thread has loaded
    const script = `
      const { ThreadedTextChunker } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/ingestion/chunking/text-chunker.js'))});
      const chunker = new ThreadedTextChunker();
      (async () => {
        const chunks = await chunker.chunk('Retrieval grounds answers in documents. '.repeat(50), { type: 'recursive', chunk_size: 32, chunk_overlap: 0 });
        const [tokens] = await chunker.countTokens(['hello tokenizer']);
        await chunker.close();
        const loaded = Object.keys(require.cache).filter((file) => /js-tiktoken|gpt-tokenizer|chunking[\\\\/]tokenizer/.test(file));
        process.stdout.write(JSON.stringify({ chunks: chunks.length, tokens, loaded }));
      })();
    `;
    const report = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: REPO_ROOT, encoding: 'utf8' })) as { chunks: number; tokens: number; loaded: string[] };
    expect(report.chunks).toBeGreaterThan(5);
    expect(report.tokens).toBe(countTokens('hello tokenizer'));
    expect(report.loaded).toEqual([]);
  });
});
