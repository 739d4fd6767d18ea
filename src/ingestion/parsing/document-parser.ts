import mammoth from 'mammoth';
import { extractText, getDocumentProxy, getMeta } from 'unpdf';
import { findMarkdownHeadings, MarkdownHeading } from '../chunking/markdown-headings';
import { decodeText, DocumentType } from './document-type';
import { htmlToText } from './html-text';
import { DocumentParseError } from './parse-errors';

export interface DocumentStructure {
  /** markdown: `#` headings are meaningful (md, and html/docx whose headings became `#` lines) */
  format: 'markdown' | 'plain';
  headings: MarkdownHeading[];
  /** pdf only */
  pages?: number;
}

/** The text that chunk offsets refer to, with what the document says about itself. */
export interface ParsedDocument {
  text: string;
  title?: string;
  structure: DocumentStructure;
}

export interface ParseOptions {
  /** give up after this long (default 30 s); pdf parsing is also stopped */
  timeoutMs?: number;
  /** refuse documents whose text is longer (default 10 M characters) */
  maxTextChars?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_TEXT_CHARS = 10_000_000;

/**
 * Turns a detected document into text: pdf with unpdf (pdf.js), docx with mammoth (to HTML, then
 * as html), html with html-to-text (headings become `#` lines, `<title>` is the title), md and
 * txt decoded as they are. Line ends become `\n`, text is NFC-normalised and trimmed.
 * Throws DocumentParseError: `corrupt`, `encrypted`, `no_text` (nothing but white space, e.g. a
 * scanned pdf), `too_large`, `timeout`.
 */
export async function parseDocument(bytes: Buffer, type: DocumentType, options: ParseOptions = {}): Promise<ParsedDocument> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxTextChars = options.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS;
  const raw = await withTimeout(extract(bytes, type), timeoutMs, type);
  const text = normalize(raw.text);
  if (text === '') throw new DocumentParseError('no_text', `the ${type} document contains no text`);
  if (text.length > maxTextChars) {
    throw new DocumentParseError('too_large', `the ${type} document has ${text.length} characters of text, more than ${maxTextChars}`);
  }
  const markdown = type === 'md' || type === 'html' || type === 'docx';
  const headings = markdown ? findMarkdownHeadings(text) : [];
  const title = raw.title?.trim() || headings.find((h) => h.level === 1)?.title;
  return {
    text,
    ...(title ? { title } : {}),
    structure: { format: markdown ? 'markdown' : 'plain', headings, ...(raw.pages !== undefined ? { pages: raw.pages } : {}) },
  };
}

interface RawText {
  text: string;
  title?: string;
  pages?: number;
}

interface Cancellable<T> {
  result: Promise<T>;
  cancel(): void;
}

function extract(bytes: Buffer, type: DocumentType): Cancellable<RawText> {
  switch (type) {
    case 'pdf':
      return extractPdf(bytes);
    case 'docx':
      return { result: extractDocx(bytes), cancel: () => undefined };
    case 'html':
      return { result: Promise.resolve().then(() => htmlToText(textOf(bytes, type))), cancel: () => undefined };
    case 'md':
    case 'txt':
      return { result: Promise.resolve().then(() => ({ text: textOf(bytes, type) })), cancel: () => undefined };
  }
}

function textOf(bytes: Buffer, type: DocumentType): string {
  const text = decodeText(bytes);
  if (text === undefined) throw new DocumentParseError('corrupt', `the ${type} document is not valid UTF-8 text`);
  return text;
}

function extractPdf(bytes: Buffer): Cancellable<RawText> {
  // pdf.js may detach the buffer it is given: hand it a copy
  const loading = getDocumentProxy(new Uint8Array(bytes), { verbosity: 0, isEvalSupported: false });
  const result = (async (): Promise<RawText> => {
    let pdf: Awaited<typeof loading>;
    try {
      pdf = await loading;
    } catch (error) {
      throw pdfError(error);
    }
    try {
      const { totalPages, text } = await extractText(pdf, { mergePages: false });
      const { info } = await getMeta(pdf);
      const title = typeof (info as Record<string, unknown>)?.Title === 'string' ? ((info as Record<string, unknown>).Title as string) : undefined;
      return { text: text.join('\n\n'), title, pages: totalPages };
    } catch (error) {
      throw pdfError(error);
    } finally {
      void pdf.destroy();
    }
  })();
  return {
    result,
    cancel: () => void loading.then((pdf) => pdf.destroy()).catch(() => undefined),
  };
}

function pdfError(error: unknown): DocumentParseError {
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'PasswordException') return new DocumentParseError('encrypted', 'the pdf is password-protected');
  return new DocumentParseError('corrupt', `the pdf could not be read: ${message}`);
}

async function extractDocx(bytes: Buffer): Promise<RawText> {
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ buffer: bytes })).value;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new DocumentParseError('corrupt', `the docx could not be read: ${message}`);
  }
  return { text: htmlToText(html).text };
}

async function withTimeout<T>(work: Cancellable<T>, timeoutMs: number, type: DocumentType): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      work.cancel();
      reject(new DocumentParseError('timeout', `parsing the ${type} document took longer than ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([work.result, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function normalize(text: string): string {
  return text
    .replace(/\r\n?/gu, '\n')
    .normalize('NFC')
    .replace(/[ \t]+$/gmu, '')
    .replace(/\n{3,}/gu, '\n\n')
    .trim();
}
