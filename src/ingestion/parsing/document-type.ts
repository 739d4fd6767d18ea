import { UnsupportedMediaTypeError } from '../../common/errors';
import { DocumentParseError } from './parse-errors';

export const DOCUMENT_TYPES = ['txt', 'md', 'html', 'pdf', 'docx'] as const;
export type DocumentType = (typeof DOCUMENT_TYPES)[number];

export const DOCUMENT_MIME_TYPES: Readonly<Record<DocumentType, string>> = {
  txt: 'text/plain',
  md: 'text/markdown',
  html: 'text/html',
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
};

const EXTENSIONS: Readonly<Record<string, DocumentType>> = {
  txt: 'txt',
  text: 'txt',
  md: 'md',
  markdown: 'md',
  html: 'html',
  htm: 'html',
  xhtml: 'html',
  pdf: 'pdf',
  docx: 'docx',
};

const MIME_TYPES: Readonly<Record<string, DocumentType>> = {
  'text/plain': 'txt',
  'text/markdown': 'md',
  'text/x-markdown': 'md',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
  'application/pdf': 'pdf',
  [DOCUMENT_MIME_TYPES.docx]: 'docx',
};

/** Formats recognised by their first bytes, to name them when refusing them. */
const KNOWN_BINARY_SIGNATURES: ReadonlyArray<[string, number[]]> = [
  ['a PNG image', [0x89, 0x50, 0x4e, 0x47]],
  ['a JPEG image', [0xff, 0xd8, 0xff]],
  ['a GIF image', [0x47, 0x49, 0x46, 0x38]],
  ['a WebP or RIFF file', [0x52, 0x49, 0x46, 0x46]],
  ['a Windows executable', [0x4d, 0x5a]],
  ['an ELF executable', [0x7f, 0x45, 0x4c, 0x46]],
  ['a gzip archive', [0x1f, 0x8b]],
  ['a 7-Zip archive', [0x37, 0x7a, 0xbc, 0xaf]],
  ['an old Office (OLE) document', [0xd0, 0xcf, 0x11, 0xe0]],
];

const ZIP_SIGNATURE = [0x50, 0x4b, 0x03, 0x04];
const UTF16_BOMS = [
  [0xff, 0xfe],
  [0xfe, 0xff],
];
/** How far into a file `%PDF-` may start (Acrobat accepts junk before it) */
const PDF_HEADER_WINDOW = 1024;
const SNIFF_WINDOW = 4096;

/**
 * The type of an uploaded document, from its content first (magic bytes, UTF-8 validity, HTML
 * sniffing) and its name or declared MIME type second.
 * - `%PDF-` → pdf; a zip holding `word/document.xml` → docx;
 * - valid UTF-8 (or UTF-16 with a BOM) text without NUL bytes → the text type its name or MIME
 *   type says, else html when it opens like HTML, md when it shows markdown signals, else txt;
 * - anything else (images, archives, executables, binary named `.txt`) → UnsupportedMediaTypeError
 *   (415), as is content that contradicts its name (a `.pdf` that is not a PDF).
 * Empty (or 0-byte) content → DocumentParseError('empty') (422).
 */
export function detectDocumentType(bytes: Buffer, filename?: string, declaredMime?: string): DocumentType {
  if (bytes.length === 0) throw new DocumentParseError('empty', 'the document is empty (0 bytes)');
  const claimed = claimedType(filename, declaredMime);
  const what = filename ? `'${filename}'` : 'the document';

  if (bytes.subarray(0, PDF_HEADER_WINDOW).includes('%PDF-')) return 'pdf';
  if (startsWith(bytes, ZIP_SIGNATURE)) {
    if (bytes.includes('word/document.xml')) return 'docx';
    throw new UnsupportedMediaTypeError(
      `${what} is a zip archive but not a Word (.docx) document; supported types: ${DOCUMENT_TYPES.join(', ')}`,
    );
  }
  if (claimed === 'pdf' || claimed === 'docx') {
    throw new UnsupportedMediaTypeError(`${what} is declared ${claimed} but its content is not a ${claimed} file`);
  }
  const known = KNOWN_BINARY_SIGNATURES.find(([, signature]) => startsWith(bytes, signature));
  if (known) {
    throw new UnsupportedMediaTypeError(`${what} is ${known[0]}; supported types: ${DOCUMENT_TYPES.join(', ')}`);
  }

  const text = decodeText(bytes);
  if (text === undefined) {
    throw new UnsupportedMediaTypeError(
      `${what} is binary, not text (not valid UTF-8 or contains NUL bytes); supported types: ${DOCUMENT_TYPES.join(', ')}`,
    );
  }
  const head = text.slice(0, SNIFF_WINDOW);
  // between text types the name decides (a README.md may open with <p>); unnamed text is sniffed
  if (claimed !== undefined) return claimed;
  if (looksLikeHtml(head)) return 'html';
  return looksLikeMarkdown(head) ? 'md' : 'txt';
}

/**
 * The text of a text file: UTF-8 (BOM dropped) or UTF-16 with a BOM. Undefined when the bytes
 * are not valid text or hold NUL characters.
 */
export function decodeText(bytes: Buffer): string | undefined {
  let text: string;
  try {
    const bom = UTF16_BOMS.findIndex((mark) => startsWith(bytes, mark));
    const encoding = bom === 0 ? 'utf-16le' : bom === 1 ? 'utf-16be' : 'utf-8';
    text = new TextDecoder(encoding, { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return undefined;
  }
  if (text.includes('\u0000')) return undefined;
  return text;
}

function claimedType(filename?: string, declaredMime?: string): DocumentType | undefined {
  const extension = filename?.toLowerCase().match(/\.([a-z0-9]+)$/u)?.[1];
  if (extension !== undefined && EXTENSIONS[extension]) return EXTENSIONS[extension];
  const mime = declaredMime?.split(';')[0].trim().toLowerCase();
  return mime !== undefined ? MIME_TYPES[mime] : undefined;
}

function startsWith(bytes: Buffer, signature: readonly number[]): boolean {
  return bytes.length >= signature.length && signature.every((byte, i) => bytes[i] === byte);
}

/** WHATWG-style sniffing: the text opens (after white space and comments) with an HTML tag. */
function looksLikeHtml(head: string): boolean {
  const start = head
    .replace(/^(?:\s|<!--[\s\S]*?-->)*/u, '')
    .slice(0, 512)
    .toLowerCase();
  if (/^<(?:!doctype\s+html|html|head|body|title|script|iframe|h[1-6]|div|p|table|font|a|style|br|b)[\s>/]/u.test(start)) {
    return true;
  }
  return /<html[\s>]/iu.test(head) && /<\/(?:html|body|head)>/iu.test(head);
}

/** At least two kinds of markdown syntax, or a heading: a plain-text file rarely has these. */
function looksLikeMarkdown(head: string): boolean {
  const signals = [
    /^ {0,3}#{1,6}[ \t]+\S/mu,
    /^ {0,3}(?:```|~~~)/mu,
    /\[[^\]\n]+\]\([^)\s]+\)/u,
    /^ {0,3}[-*+][ \t]+\S/mu,
    /^ {0,3}>[ \t]?\S/mu,
    /(?:\*\*|__)[^\s*_][^*_\n]*(?:\*\*|__)/u,
    /^\|.+\|[ \t]*\n\|[ \t:|-]+\|/mu,
  ];
  if (signals[0].test(head)) return true;
  return signals.filter((signal) => signal.test(head)).length >= 2;
}
