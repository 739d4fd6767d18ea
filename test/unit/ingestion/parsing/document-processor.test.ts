import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKGROUND_THREAD_NICE } from '../../../../src/common/thread-priority';
import { DEFAULT_PARSE_LIMITS, DocumentParseError, DocumentProcessor, ParserStoppedError } from '../../../../src/ingestion/parsing';
import {
  inflatingDocx,
  makeDocxOf,
  makeFlateBombPdf,
  makeManyPagePdf,
  manyWordsText,
  nestedHtml,
  oneWordText,
  SMALLEST_CHUNKS,
} from '../../../fixtures/hostile-documents';
import { threadNice } from '../../../support/thread-nice';

let processor: DocumentProcessor | undefined;
afterEach(async () => {
  await processor?.close();
  processor = undefined;
});

/** limits that let a pdf stream bomb reach pdf.js, so the memory watchdog behind them is tested */
const WATCHDOG_ONLY_LIMITS = { ...DEFAULT_PARSE_LIMITS, pdfMaxInflatedBytes: 64 * 1024 ** 3 };
const make = (options: Partial<ConstructorParameters<typeof DocumentProcessor>[0]> = {}) =>
  (processor = new DocumentProcessor({
    threads: 2,
    timeoutMs: 20_000,
    maxHeapMb: 256,
    limits: DEFAULT_PARSE_LIMITS,
    idleTimeoutMs: 500,
    ...options,
  }));

async function failure(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => expect.unreachable('the document was processed'),
    (e: unknown) => e,
  );
}

/** How late a 10 ms timer fires while `work` runs: the event loop's stall. */
async function worstTimerDelay<T>(work: Promise<T>): Promise<{ result: PromiseSettledResult<T>; worstMs: number }> {
  let worst = 0;
  let running = true;
  const tick = async () => {
    while (running) {
      const started = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 10));
      worst = Math.max(worst, performance.now() - started - 10);
    }
  };
  const ticking = tick();
  const [result] = await Promise.allSettled([work]);
  running = false;
  await ticking;
  return { result, worstMs: worst };
}

describe('DocumentProcessor: untrusted documents parsed and chunked on pooled threads', () => {
  it('parses and chunks on a thread, and no thread stays once idle', async () => {
    const pool = make();
    const processed = await pool.process(makeDocxOf(40, 'Retrieval grades each passage before it answers.'), 'docx', {
      type: 'recursive',
      chunk_size: 64,
      chunk_overlap: 0,
    });
    expect(processed.chunks.length).toBeGreaterThan(1);
    expect(processed.chunks[0].text).toContain('Retrieval grades each passage');
    expect(processed.chunks.every((chunk) => chunk.token_count <= 64)).toBe(true);
    expect(pool.threads).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(pool.threads).toBe(0);
  });

  it.runIf(fs.existsSync('/proc/thread-self'))(
    'parses on threads of lower priority than the event loop (one upload yields the cores to requests)',
    async () => {
      const pool = make();
      await pool.process(Buffer.from('a short note'), 'txt', {});
      const niceOf = (tid: string) => threadNice(`/proc/self/task/${tid}/stat`);
      const lowered = fs.readdirSync('/proc/self/task').filter((tid) => niceOf(tid) === BACKGROUND_THREAD_NICE);
      expect(lowered.length).toBeGreaterThanOrEqual(1);
      expect(niceOf(String(process.pid))).toBe(0);
    },
  );

  it('returns a limit that was hit as the document’s own failure, with its reason', async () => {
    const error = await failure(make().process(inflatingDocx(), 'docx', {}));
    expect(error).toBeInstanceOf(DocumentParseError);
    expect((error as DocumentParseError).reason).toBe('too_large');
  });

  it('fails a document that makes more than PARSE_MAX_CHUNKS chunks before they leave the thread', async () => {
    const pool = make({ limits: { ...DEFAULT_PARSE_LIMITS, maxChunks: 1_000 } });
    // 200 KB of words in 32-token chunks: about 3,000 of them
    const error = await failure(pool.process(manyWordsText(200_000), 'txt', SMALLEST_CHUNKS));
    expect(error).toBeInstanceOf(DocumentParseError);
    expect((error as DocumentParseError).reason).toBe('too_large');
    expect((error as DocumentParseError).message).toMatch(
      /^the txt document makes \d{4} chunks, more than PARSE_MAX_CHUNKS \(1000\); a knowledge base with a larger chunk_size makes fewer$/,
    );
    // the default chunker cuts the same text into far fewer chunks: indexed
    expect((await pool.process(manyWordsText(200_000), 'txt', {})).chunks.length).toBeLessThan(1_000);
  });

  it('turns a stack overflow inside a parser into a permanent failure, not a crash', async () => {
    // html-to-text recurses once per level: with the depth limit lifted, 20k levels overflow its stack
    const pool = make({ limits: { ...DEFAULT_PARSE_LIMITS, htmlMaxDepth: 10_000_000 } });
    const error = await failure(pool.process(nestedHtml(20_000), 'html', {}));
    expect(error).toBeInstanceOf(DocumentParseError);
    expect((error as DocumentParseError).message).toMatch(/nested too deeply|ran out of stack/);
    // the pool still works
    expect((await pool.process(Buffer.from('fine'), 'txt', {})).chunks[0].text).toBe('fine');
  });

  it('terminates the thread at the time limit, while the event loop keeps its timers', async () => {
    // extraction of 4,000 hand-made pages takes seconds; the limit is 300 ms
    const pool = make({ timeoutMs: 300 });
    const started = performance.now();
    const { result, worstMs } = await worstTimerDelay(pool.process(makeManyPagePdf(4_000), 'pdf', {}));
    expect(result.status).toBe('rejected');
    const error = (result as PromiseRejectedResult).reason as ParserStoppedError;
    expect(error).toBeInstanceOf(ParserStoppedError);
    expect(error.stop).toBe('timeout');
    expect(error.message).toContain('PARSE_TIMEOUT_MS (300 ms)');
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(worstMs).toBeLessThan(250);
  });

  it('stops the thread when the caller cancels (a worker shutting down), rejecting with the caller’s reason', async () => {
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(new Error('worker shutting down')), 300);
    const error = await failure(make().process(makeManyPagePdf(4_000), 'pdf', {}, cancel.signal));
    expect(error).not.toBeInstanceOf(ParserStoppedError);
    expect((error as Error).message).toBe('worker shutting down');
  });

  it('terminates a thread past its heap cap and says so; the process lives on', async () => {
    // 2M pages of text held at once need far more than a 64 MB heap
    const pool = make({ maxHeapMb: 64, limits: { ...DEFAULT_PARSE_LIMITS, pdfMaxPages: 10_000_000, maxTextChars: 1_000_000_000 } });
    const error = await failure(pool.process(makeManyPagePdf(60_000), 'pdf', {}));
    expect(error).toBeInstanceOf(ParserStoppedError);
    expect((error as ParserStoppedError).stop).toBe('memory');
    expect((error as ParserStoppedError).message).toContain('PARSE_MAX_HEAP_MB (64 MB)');
    expect((await pool.process(Buffer.from('after'), 'txt', {})).chunks[0].text).toBe('after');
  });

  it('stops a parse whose buffers outside the heap grow the process past its budget (a pdf stream that inflates)', async () => {
    // a 200 KB pdf whose one stream inflates to 200 MB; budget with a 32 MB heap and 16 MB of slack: 32 × 1.5 + 16 = 64 MB
    // (PDF_MAX_INFLATED_BYTES would refuse it before pdf.js: lifted, so the watchdog is what stops it)
    const pool = make({ maxHeapMb: 32, memorySlackMb: 16, timeoutMs: 50_000, limits: WATCHDOG_ONLY_LIMITS });
    const error = await failure(pool.process(makeFlateBombPdf(200), 'pdf', {}));
    expect(error).toBeInstanceOf(ParserStoppedError);
    expect((error as ParserStoppedError).stop).toBe('memory');
    expect((error as ParserStoppedError).message).toMatch(
      /^parsing grew the process by \d+ MB, more than the budget of PARSE_MAX_HEAP_MB \(32 MB\)/,
    );
  }, 60_000);

  it('does not count a memory stop against a document that was parsing beside another', async () => {
    const pool = make({ maxHeapMb: 32, memorySlackMb: 16, timeoutMs: 50_000, limits: WATCHDOG_ONLY_LIMITS });
    const [bomb, bystander] = await Promise.all([
      failure(pool.process(makeFlateBombPdf(300), 'pdf', {})),
      failure(pool.process(makeManyPagePdf(4_000), 'pdf', {})),
    ]);
    for (const error of [bomb, bystander]) {
      expect(error).toBeInstanceOf(ParserStoppedError);
      expect((error as ParserStoppedError).stop).toBe('memory');
      expect((error as ParserStoppedError).attributable).toBe(false);
    }
  }, 60_000);

  it('chunks a multi-megabyte word off the event loop', async () => {
    const { result, worstMs } = await worstTimerDelay(
      make().process(oneWordText(2 * 1024 * 1024), 'txt', { type: 'recursive', chunk_size: 512, chunk_overlap: 0 }),
    );
    expect(result.status).toBe('fulfilled');
    expect(worstMs).toBeLessThan(250);
  });
});
