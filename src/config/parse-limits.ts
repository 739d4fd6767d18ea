/**
 * The budget of parsing one untrusted document. Each limit is checked before the work it guards
 * (a zip's central directory before inflating, a pdf's page count before extracting, an html
 * page's nesting while it is tokenized), so a hostile document fails at once and cheaply.
 */
export interface ParseLimits {
  /** characters of extracted text (a longer document is `too_large`) */
  maxTextChars: number;
  /** chunks of one document with its knowledge base's chunker, checked before they leave the parser thread */
  maxChunks: number;
  /** pages of a pdf */
  pdfMaxPages: number;
  /** bytes all streams of a pdf may inflate to, counted before pdf.js reads it */
  pdfMaxInflatedBytes: number;
  /** bytes a zip container (docx) may inflate to, summed over its entries: declared and actual */
  zipMaxUncompressedBytes: number;
  /** uncompressed / compressed size of any one entry of a zip container */
  zipMaxCompressionRatio: number;
  /** entries of a zip container */
  zipMaxEntries: number;
  /** depth of nested html elements (the html of a docx too) */
  htmlMaxDepth: number;
  /** html elements in one document */
  htmlMaxElements: number;
}

export const DEFAULT_PARSE_LIMITS: Readonly<ParseLimits> = {
  maxTextChars: 10_000_000,
  maxChunks: 20_000,
  pdfMaxPages: 5_000,
  pdfMaxInflatedBytes: 200 * 1024 * 1024,
  zipMaxUncompressedBytes: 50 * 1024 * 1024,
  zipMaxCompressionRatio: 100,
  zipMaxEntries: 10_000,
  htmlMaxDepth: 512,
  htmlMaxElements: 500_000,
};

/** `52428800` → `50 MB` (binary megabytes, as the limits are configured) */
export function formatBytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  if (mb >= 1) return `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
  const kb = bytes / 1024;
  return kb >= 1 ? `${Number.isInteger(kb) ? kb : kb.toFixed(1)} KB` : `${bytes} bytes`;
}
