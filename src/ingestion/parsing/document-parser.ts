import type * as Unpdf from 'unpdf';
import { findMarkdownHeadings, MarkdownHeading } from '../chunking/markdown-headings';
import { decodeText, DocumentType } from './document-type';
import { checkHtmlShape } from './html-guard';
import { htmlToText } from './html-text';
import { DocumentParseError } from './parse-errors';
import { DEFAULT_PARSE_LIMITS, type ParseLimits } from '../../config/parse-limits';
import { checkPdfStreams } from './pdf-guard';
import { checkZipContainer } from './zip-guard';

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

/** Limits of this parse; each missing one takes its default (DEFAULT_PARSE_LIMITS). */
export type ParseOptions = Partial<ParseLimits>;

/**
 * Turns a detected document into text: pdf with unpdf (pdf.js), docx with mammoth (to HTML, then
 * as html), html with html-to-text (headings become `#` lines, `<title>` is the title), md and
 * txt decoded as they are. Line ends become `\n`, text is NFC-normalised and trimmed.
 *
 * The document is untrusted: every limit of ParseLimits is checked before the work it guards,
 * and extraction stops as soon as one is passed. This function still does unbounded synchronous
 * work on what passes (a parser is a parser): the ingestion pipeline runs it on a pooled worker
 * thread with a memory cap and a wall-clock limit (DocumentProcessor), never on the HTTP thread.
 * Throws DocumentParseError: `corrupt`, `encrypted`, `no_text` (nothing but white space, e.g. a
 * scanned pdf), `too_large` (naming the limit).
 */
export async function parseDocument(bytes: Buffer, type: DocumentType, options: ParseOptions = {}): Promise<ParsedDocument> {
  const limits: ParseLimits = { ...DEFAULT_PARSE_LIMITS, ...options };
  const raw = await extract(bytes, type, limits);
  checkTextLength(raw.text.length, type, limits);
  const text = normalize(raw.text);
  if (text === '') throw new DocumentParseError('no_text', `the ${type} document contains no text`);
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

function extract(bytes: Buffer, type: DocumentType, limits: ParseLimits): Promise<RawText> {
  switch (type) {
    case 'pdf':
      return extractPdf(bytes, limits);
    case 'docx':
      return extractDocx(bytes, limits);
    case 'html': {
      const html = textOf(bytes, type);
      checkHtmlShape(html, limits);
      return Promise.resolve(htmlToText(html));
    }
    case 'md':
    case 'txt':
      return Promise.resolve({ text: textOf(bytes, type) });
  }
}

function checkTextLength(length: number, type: DocumentType, limits: ParseLimits): void {
  if (length > limits.maxTextChars) {
    throw new DocumentParseError(
      'too_large',
      `the ${type} document has more than ${limits.maxTextChars} characters of text (PARSE_MAX_TEXT_CHARS)`,
    );
  }
}

function textOf(bytes: Buffer, type: DocumentType): string {
  const text = decodeText(bytes);
  if (text === undefined) throw new DocumentParseError('corrupt', `the ${type} document is not valid UTF-8 text`);
  return text;
}

/**
 * Page by page, one at a time (pdf.js would hold every page's text items at once otherwise), after
 * checking the page count; stops once the text passes the limit.
 */
async function extractPdf(bytes: Buffer, limits: ParseLimits): Promise<RawText> {
  await checkPdfStreams(bytes, limits);
  // the parsers are required on first use: they run on the parser threads, never on the main one
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { getDocumentProxy, getMeta } = require('unpdf') as typeof Unpdf;
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // pdf.js may detach the buffer it is given: hand it a copy
    pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0, isEvalSupported: false });
  } catch (error) {
    throw pdfError(error);
  }
  try {
    if (pdf.numPages > limits.pdfMaxPages) {
      throw new DocumentParseError('too_large', `the pdf has ${pdf.numPages} pages, more than PDF_MAX_PAGES (${limits.pdfMaxPages})`);
    }
    const pages: string[] = [];
    let length = 0;
    for (let number = 1; number <= pdf.numPages; number++) {
      const page = await pdf.getPage(number);
      const content = await page.getTextContent();
      let text = '';
      for (const item of content.items) if ('str' in item && item.str != null) text += item.str + (item.hasEOL ? '\n' : '');
      page.cleanup();
      pages.push(text);
      length += text.length + 2;
      checkTextLength(length, 'pdf', limits);
    }
    const { info } = await getMeta(pdf);
    const title =
      typeof (info as Record<string, unknown>)?.Title === 'string' ? ((info as Record<string, unknown>).Title as string) : undefined;
    return { text: pages.join('\n\n'), title, pages: pdf.numPages };
  } catch (error) {
    throw pdfError(error);
  } finally {
    void pdf.destroy();
  }
}

function pdfError(error: unknown): DocumentParseError {
  if (error instanceof DocumentParseError) return error;
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'PasswordException') return new DocumentParseError('encrypted', 'the pdf is password-protected');
  return new DocumentParseError('corrupt', `the pdf could not be read: ${message.slice(0, 300)}`);
}

/** Images are neither read nor inlined: their text is nothing, and a docx may hold megabytes of them. */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- required on first use (see extractPdf)
const mammoth = (): typeof import('mammoth') => require('mammoth') as typeof import('mammoth');
let skipImages: ReturnType<typeof import('mammoth').images.imgElement> | undefined;

async function extractDocx(bytes: Buffer, limits: ParseLimits): Promise<RawText> {
  await checkZipContainer(bytes, limits);
  let html: string;
  try {
    skipImages ??= mammoth().images.imgElement(() => Promise.resolve({ src: '' }));
    html = (await mammoth().convertToHtml({ buffer: bytes }, { convertImage: skipImages })).value;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new DocumentParseError('corrupt', `the docx could not be read: ${message.slice(0, 300)}`);
  }
  checkTextLength(html.length, 'docx', { ...limits, maxTextChars: limits.maxTextChars * 4 });
  checkHtmlShape(html, limits, 'docx');
  return { text: htmlToText(html).text };
}

function normalize(text: string): string {
  return text
    .replace(/\r\n?/gu, '\n')
    .normalize('NFC')
    .replace(/[ \t]+$/gmu, '')
    .replace(/\n{3,}/gu, '\n\n')
    .trim();
}
