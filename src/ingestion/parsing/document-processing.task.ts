/**
 * The task a pooled parser thread runs (DocumentProcessor): parse an untrusted document, then
 * chunk its text. It never throws: what the document does wrong comes back as a result, so that
 * anything the pool rejects with means the thread itself was stopped (time limit, memory cap,
 * crash).
 */
import type { ChunkerSettings } from '../chunking/chunker-settings';
import { chunkText, type Chunk } from '../chunking/chunk-text';
import { AppError } from '../../common/errors';
import { parseDocument } from './document-parser';
import type { DocumentType } from './document-type';
import { DocumentParseError } from './parse-errors';
import type { ParseLimits } from '../../config/parse-limits';
import { isMainThread } from 'node:worker_threads';
import { lowerThisThreadPriority } from '../../common/thread-priority';

// a parser thread works for one tenant's upload: it yields the cores to the threads that answer requests
if (!isMainThread) lowerThisThreadPriority();

export interface DocumentTask {
  bytes: Uint8Array;
  type: DocumentType;
  chunker: Partial<ChunkerSettings>;
  limits: ParseLimits;
}

export type DocumentTaskResult =
  | { ok: true; title?: string; chunks: Chunk[]; parseMs: number; chunkMs: number }
  /** the document cannot be indexed, whatever the attempt: `reason` is DocumentParseError's, or `parser_error`; `memory`: a stop */
  | { ok: false; reason: string; message: string };

export default async function processDocument(task: DocumentTask): Promise<DocumentTaskResult> {
  try {
    const started = performance.now();
    const bytes = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
    const parsed = await parseDocument(bytes, task.type, task.limits);
    const parsedAt = performance.now();
    const chunks = chunkText(parsed.text, task.chunker);
    // every chunk is embedded, indexed and stored by the main process, and stays in its indexes:
    // 10 M characters cut into 32-token chunks made 142,675 of them, 1.3 GB of RSS and 6 s stalls
    if (chunks.length > task.limits.maxChunks) {
      return {
        ok: false,
        reason: 'too_large',
        message: `the ${task.type} document makes ${chunks.length} chunks, more than PARSE_MAX_CHUNKS (${task.limits.maxChunks}); a knowledge base with a larger chunk_size makes fewer`,
      };
    }
    // what crosses back to the event loop is bounded by the text: overlap and heading paths aside
    let outChars = 0;
    for (const chunk of chunks) {
      outChars += chunk.text.length;
      for (const title of chunk.heading_path) outChars += title.length;
    }
    if (outChars > parsed.text.length * 8 + 4_000_000) {
      return {
        ok: false,
        reason: 'too_large',
        message: `the ${task.type} document's ${chunks.length} chunks hold ${outChars} characters, more than 8 times its text`,
      };
    }
    return {
      ok: true,
      ...(parsed.title ? { title: parsed.title } : {}),
      chunks,
      parseMs: parsedAt - started,
      chunkMs: performance.now() - parsedAt,
    };
  } catch (error) {
    if (error instanceof DocumentParseError) return { ok: false, reason: error.reason, message: error.message };
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      return {
        ok: false,
        reason: 'too_large',
        message: `the ${task.type} document is nested too deeply to parse (the parser ran out of stack)`,
      };
    }
    if (error instanceof AppError) return { ok: false, reason: 'invalid', message: error.message };
    if (error instanceof RangeError && /allocation failed|invalid (typed )?array length|out of memory/i.test(error.message)) {
      // memory the thread could not get (the machine's, not only the cap): a stop, tried once more
      return {
        ok: false,
        reason: 'memory',
        message: `parsing could not allocate memory (${error.message.slice(0, 200)}); the parser thread gave up`,
      };
    }
    // a parser library failing on what it was given: another attempt would fail the same way
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { ok: false, reason: 'parser_error', message: `the ${task.type} parser failed: ${message.slice(0, 500)}` };
  }
}
