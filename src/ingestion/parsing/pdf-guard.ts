import * as zlib from 'node:zlib';
import { DocumentParseError } from './parse-errors';
import { formatBytes, type ParseLimits } from './parse-limits';

type PdfLimits = Pick<ParseLimits, 'pdfMaxInflatedBytes'>;

const STREAM = Buffer.from('stream');
const END_STREAM = Buffer.from('endstream');
const OBJ = Buffer.from('obj');
/** how far back from a `stream` keyword its dictionary is looked for */
const DICTIONARY_WINDOW = 4096;

/**
 * Checks a pdf before pdf.js reads it: every stream is inflated to nowhere and counted, and the
 * document is refused once the sum passes `pdfMaxInflatedBytes`. pdf.js decodes a content stream
 * into one buffer outside the V8 heap (a 1 MB pdf whose content inflates to 1 GB grew the process
 * by over 1 GB), where no heap cap sees it and from where freed memory does not reliably return to
 * the system. Images count too: a stream's dictionary is the attacker's to write, and a content
 * stream that calls itself an image is still decoded as content.
 * A stream's data runs to the farther of its `/Length` (direct, or an indirect object resolved by
 * a plain search) and its `endstream`, so neither a false length nor an `endstream` hidden in the
 * data shortens what is counted. Data that is not zlib ends its count at once.
 */
export async function checkPdfStreams(bytes: Buffer, limits: PdfLimits): Promise<void> {
  let inflated = 0;
  let from = 0;
  let integerObjects: Map<string, number> | undefined;
  const lengthObjects = () => (integerObjects ??= indexIntegerObjects(bytes));
  for (;;) {
    const keyword = bytes.indexOf(STREAM, from);
    if (keyword < 0) return;
    from = keyword + STREAM.length;
    if (isEndStream(bytes, keyword)) continue;
    const start = streamDataStart(bytes, from);
    if (start < 0) continue;
    const dictionary = dictionaryBefore(bytes, keyword);
    const endStream = bytes.indexOf(END_STREAM, start);
    const declared = declaredLength(dictionary, lengthObjects);
    const end = Math.min(bytes.length, Math.max(endStream < 0 ? bytes.length : endStream, declared === undefined ? 0 : start + declared));
    from = Math.max(from, endStream < 0 ? bytes.length : endStream);
    const budget = limits.pdfMaxInflatedBytes - inflated;
    inflated += await inflatedLength(bytes.subarray(start, end), budget);
    if (inflated > limits.pdfMaxInflatedBytes) {
      throw new DocumentParseError('too_large', `the pdf's streams inflate beyond ${formatBytes(limits.pdfMaxInflatedBytes)} (PDF_MAX_INFLATED_BYTES)`);
    }
  }
}

function isEndStream(bytes: Buffer, keyword: number): boolean {
  return keyword >= 3 && bytes.toString('latin1', keyword - 3, keyword) === 'end';
}

/** The data of a stream starts after the end of line that follows its keyword (CRLF or LF; CR alone is tolerated as pdf.js does). */
function streamDataStart(bytes: Buffer, afterKeyword: number): number {
  const next = bytes[afterKeyword];
  if (next === 0x0d) return bytes[afterKeyword + 1] === 0x0a ? afterKeyword + 2 : afterKeyword + 1;
  if (next === 0x0a) return afterKeyword + 1;
  return -1;
}

/** The text between the object header (`12 0 obj`) and the `stream` keyword, at most a few KB back. */
function dictionaryBefore(bytes: Buffer, keyword: number): string {
  const windowStart = Math.max(0, keyword - DICTIONARY_WINDOW);
  const header = bytes.subarray(windowStart, keyword).lastIndexOf(OBJ);
  return bytes.toString('latin1', header < 0 ? windowStart : windowStart + header, keyword);
}

/** `/Length 1234`, or `/Length 7 0 R` resolved through the file's integer objects; undefined when neither reads. */
function declaredLength(dictionary: string, integerObjects: () => Map<string, number>): number | undefined {
  const length = /\/Length\s+(\d{1,12})(?:\s+(\d{1,5})\s+R)?/.exec(dictionary);
  if (!length) return undefined;
  return length[2] === undefined ? Number(length[1]) : integerObjects().get(`${length[1]} ${length[2]}`);
}

/** Every `N G obj <integer> endobj` of the file, found in one pass (only when a length is indirect). */
function indexIntegerObjects(bytes: Buffer): Map<string, number> {
  const objects = new Map<string, number>();
  const text = bytes.toString('latin1');
  for (const match of text.matchAll(/(?<!\d)(\d{1,10})\s+(\d{1,5})\s+obj\s*(\d{1,12})\s*endobj/g)) objects.set(`${match[1]} ${match[2]}`, Number(match[3]));
  return objects;
}

/** Inflates zlib data as a stream, keeping nothing; stops once past `budget`. */
async function inflatedLength(data: Buffer, budget: number): Promise<number> {
  if (!hasZlibHeader(data)) return 0;
  const inflate = zlib.createInflate({ finishFlush: zlib.constants.Z_SYNC_FLUSH, chunkSize: 128 * 1024 });
  let length = 0;
  inflate.end(data);
  try {
    for await (const chunk of inflate as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > budget) break;
    }
  } catch {
    // not zlib data, or truncated: pdf.js decides what it makes of it
  } finally {
    inflate.destroy();
  }
  return length;
}

/** RFC 1950: deflate (CM 8) with a check value that makes the first two bytes a multiple of 31. */
function hasZlibHeader(data: Buffer): boolean {
  return data.length >= 2 && (data[0] & 0x0f) === 8 && ((data[0] << 8) | data[1]) % 31 === 0;
}
