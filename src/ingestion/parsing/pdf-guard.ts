import * as zlib from 'node:zlib';
import { DocumentParseError } from './parse-errors';
import { formatBytes, type ParseLimits } from '../../config/parse-limits';

type PdfLimits = Pick<ParseLimits, 'pdfMaxInflatedBytes'>;

const STREAM = Buffer.from('stream');
const END_STREAM = Buffer.from('endstream');
const OBJ = Buffer.from('obj');
/** how far back from a `stream` keyword its dictionary is looked for */
const DICTIONARY_WINDOW = 4096;
/** how much of an indirect object's text is read to resolve a `/Length` or `/Filter` */
const OBJECT_WINDOW = 512;

/** The filters pdf.js decodes for text, by their full and abbreviated names; any other (images, crypt) ends a chain. */
const FILTERS: Record<string, Filter> = {
  FlateDecode: 'flate',
  Fl: 'flate',
  LZWDecode: 'lzw',
  LZW: 'lzw',
  RunLengthDecode: 'runLength',
  RL: 'runLength',
  ASCIIHexDecode: 'hex',
  AHx: 'hex',
  ASCII85Decode: 'ascii85',
  A85: 'ascii85',
};
type Filter = 'flate' | 'lzw' | 'runLength' | 'hex' | 'ascii85';

class OverBudget extends Error {}

/**
 * Checks a pdf before pdf.js reads it: every stream is decoded to nowhere through its filters
 * (Flate, LZW, RunLength, ASCIIHex, ASCII85, in the order its `/Filter` names them) and counted,
 * and the document is refused once the sum passes `pdfMaxInflatedBytes`. pdf.js decodes a content
 * stream into one buffer outside the V8 heap (a 1 MB pdf whose content inflates to 1 GB grew the
 * process by over 1 GB), where no heap cap sees it and from where freed memory does not reliably
 * return to the system. Images count too: a stream's dictionary is the sender's to write, and a
 * content stream that calls itself an image is still decoded as content.
 * A stream's data runs to the farther of its `/Length` and its `endstream`, so neither a false
 * length nor an `endstream` hidden in the data shortens what is counted; an indirect `/Length` or
 * `/Filter` is resolved by a plain search for its object. The last filter of a chain is counted as
 * it decodes, keeping nothing; the filters before it (rare) are decoded within the budget.
 */
export async function checkPdfStreams(bytes: Buffer, limits: PdfLimits): Promise<void> {
  let decoded = 0;
  let from = 0;
  const objects = new IndirectObjects(bytes);
  for (;;) {
    const keyword = bytes.indexOf(STREAM, from);
    if (keyword < 0) return;
    from = keyword + STREAM.length;
    if (isEndStream(bytes, keyword)) continue;
    const start = streamDataStart(bytes, from);
    if (start < 0) continue;
    const dictionary = dictionaryBefore(bytes, keyword);
    const endStream = bytes.indexOf(END_STREAM, start);
    const declared = declaredLength(dictionary, objects);
    const end = Math.min(bytes.length, Math.max(endStream < 0 ? bytes.length : endStream, declared === undefined ? 0 : start + declared));
    from = Math.max(from, endStream < 0 ? bytes.length : endStream);
    const budget = limits.pdfMaxInflatedBytes - decoded;
    try {
      const earlyChange = /\/EarlyChange\s+0\b/.test(dictionary) ? 0 : 1;
      decoded += await decodedLength(bytes.subarray(start, end), filtersOf(dictionary, objects), budget, earlyChange);
    } catch (error) {
      if (!(error instanceof OverBudget)) throw error;
      decoded = Infinity;
    }
    if (decoded > limits.pdfMaxInflatedBytes) {
      throw new DocumentParseError(
        'too_large',
        `the pdf's streams inflate beyond ${formatBytes(limits.pdfMaxInflatedBytes)} (PDF_MAX_INFLATED_BYTES)`,
      );
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

/** `/Length 1234`, or `/Length 7 0 R` resolved to `7 0 obj 1234`; undefined when neither reads. */
function declaredLength(dictionary: string, objects: IndirectObjects): number | undefined {
  const length = /\/Length\s+(\d{1,12})(?:\s+(\d{1,5})\s+R)?/.exec(dictionary);
  if (!length) return undefined;
  if (length[2] === undefined) return Number(length[1]);
  const value = /^\s*(\d{1,12})/.exec(objects.text(length[1], length[2]) ?? '');
  return value ? Number(value[1]) : undefined;
}

/**
 * The stream's filters in decoding order: `/Filter /FlateDecode`, `/Filter [/ASCIIHexDecode /FlateDecode]`,
 * or either through an indirect object. Undefined when none can be read: the data is then tried as zlib.
 */
function filtersOf(dictionary: string, objects: IndirectObjects): Array<Filter | 'other'> | undefined {
  const filter = /\/Filter\s*(\/[^\s/[\]<>()]+|\[[^\]]*\]|(\d{1,10})\s+(\d{1,5})\s+R)/.exec(dictionary);
  if (!filter) return /\/Filter\b/.test(dictionary) ? undefined : [];
  const written = filter[2] === undefined ? filter[1] : objects.text(filter[2], filter[3]);
  if (written === undefined) return undefined;
  const names = [...written.matchAll(/\/([^\s/[\]<>()]+)/g)].map((name) => FILTERS[name[1]] ?? 'other');
  return names.length > 0 ? names : undefined;
}

/** What the filters make of the data: the last one counted as it decodes, the ones before it decoded within the budget. */
async function decodedLength(
  data: Buffer,
  filters: Array<Filter | 'other'> | undefined,
  budget: number,
  earlyChange: number,
): Promise<number> {
  if (filters === undefined) return hasZlibHeader(data) ? countDecoded('flate', data, budget) : 0;
  let current = data;
  for (let i = 0; i < filters.length; i++) {
    const filter = filters[i];
    // images, crypt and the like: pdf.js does not decode them to extract text
    if (filter === 'other') return 0;
    if (i === filters.length - 1) return countDecoded(filter, current, budget, earlyChange);
    current = await decodeWithin(filter, current, budget);
  }
  return current === data ? 0 : current.length;
}

async function countDecoded(filter: Filter, data: Buffer, budget: number, earlyChange = 1): Promise<number> {
  switch (filter) {
    case 'flate':
      return inflatedLength(data, budget);
    case 'lzw':
      return lzwDecodedLength(data, earlyChange);
    case 'runLength':
      return runLengthDecodedLength(data);
    case 'hex':
    case 'ascii85':
      // these shrink what they read, but for ASCII85's `z` (4 bytes from 1)
      return filter === 'hex' ? Math.ceil(data.length / 2) : data.length * 4;
  }
}

/** Decodes a filter that is not the last of its chain, refusing output past the budget. */
async function decodeWithin(filter: Filter, data: Buffer, budget: number): Promise<Buffer> {
  if (filter === 'flate') {
    if (!hasZlibHeader(data)) return Buffer.alloc(0);
    try {
      return zlib.inflateSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: Math.max(1, budget) });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new OverBudget();
      return Buffer.alloc(0);
    }
  }
  const length = await countDecoded(filter, data, budget, 1);
  if (length > budget) throw new OverBudget();
  switch (filter) {
    case 'hex':
      return Buffer.from(data.toString('latin1').replace(/[^0-9a-fA-F]/g, ''), 'hex');
    case 'ascii85':
      return ascii85Decode(data);
    case 'runLength':
      return runLengthDecode(data);
    case 'lzw':
      // the bytes the next filter reads would have to be decoded to be counted: no pdf writer
      // chains LZW into another filter, so it is refused rather than let through uncounted
      throw new DocumentParseError('corrupt', 'the pdf chains an LZW stream into another filter, which is not read');
  }
}

/** ASCII85 (`z` = four zero bytes, `~>` ends it, a short last group padded with `u`). */
function ascii85Decode(data: Buffer): Buffer {
  const text = data.toString('latin1').replace(/\s+/g, '');
  const end = text.indexOf('~>');
  const body = end < 0 ? text : text.slice(0, end);
  const out: number[] = [];
  let group: number[] = [];
  const flush = (count: number) => {
    while (group.length < 5) group.push(84);
    const value = group.reduce((sum, digit) => sum * 85 + digit, 0);
    for (let i = 0; i < count; i++) out.push(Math.floor(value / 256 ** (3 - i)) % 256);
    group = [];
  };
  for (const char of body) {
    if (char === 'z' && group.length === 0) out.push(0, 0, 0, 0);
    else {
      const digit = char.charCodeAt(0) - 33;
      if (digit < 0 || digit > 84) continue;
      group.push(digit);
      if (group.length === 5) flush(4);
    }
  }
  if (group.length > 1) flush(group.length - 1);
  return Buffer.from(out);
}

/** RunLength, decoded (its length was checked against the budget first). */
function runLengthDecode(data: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let offset = 0; offset < data.length;) {
    const n = data[offset];
    if (n === 128) break;
    if (n < 128) {
      out.push(data.subarray(offset + 1, offset + n + 2));
      offset += n + 2;
    } else {
      out.push(Buffer.alloc(257 - n, data[offset + 1] ?? 0));
      offset += 2;
    }
  }
  return Buffer.concat(out);
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
    // truncated or corrupt: what inflated so far is what pdf.js gets too
  } finally {
    inflate.destroy();
  }
  return length;
}

/** RFC 1950: deflate (CM 8) with a check value that makes the first two bytes a multiple of 31. */
function hasZlibHeader(data: Buffer): boolean {
  return data.length >= 2 && (data[0] & 0x0f) === 8 && ((data[0] << 8) | data[1]) % 31 === 0;
}

/**
 * The length LZW data decodes to, read code by code as pdf.js reads it (9 to 12 bits, clear 256,
 * end 257, `/EarlyChange` 1 unless the dictionary says 0), tracking only each code's length: a 1 MB LZW stream can decode to GBs.
 */
function lzwDecodedLength(data: Buffer, earlyChange: number): number {
  const lengths = new Uint16Array(4097);
  lengths.fill(1, 0, 256);
  let nextCode = 258;
  let width = 9;
  let previous = 0;
  let sequence = 0;
  let total = 0;
  let bits = 0;
  let buffered = 0;
  let offset = 0;
  for (;;) {
    while (bits < width) {
      if (offset >= data.length) return total;
      buffered = ((buffered << 8) | data[offset++]) >>> 0;
      bits += 8;
    }
    bits -= width;
    const code = (buffered >>> bits) & ((1 << width) - 1);
    buffered &= (1 << bits) - 1;
    const hadSequence = sequence > 0;
    if (code < 256) sequence = 1;
    else if (code >= 258) sequence = code < nextCode ? (lengths[code] ?? 0) : sequence + 1;
    else if (code === 256) {
      width = 9;
      nextCode = 258;
      sequence = 0;
      continue;
    } else return total;
    if (hadSequence) {
      if (nextCode < lengths.length) lengths[nextCode] = Math.min(65535, lengths[previous] + 1);
      nextCode++;
      const next = nextCode + earlyChange;
      if ((next & (next - 1)) === 0) width = Math.min(Math.floor(Math.log2(next)) + 1, 12);
    }
    previous = code;
    total += sequence;
  }
}

/** RunLength: a length byte n < 128 copies n + 1 bytes, n > 128 repeats the next byte 257 - n times, 128 ends. */
function runLengthDecodedLength(data: Buffer): number {
  let total = 0;
  for (let offset = 0; offset < data.length;) {
    const n = data[offset];
    if (n === 128) break;
    if (n < 128) {
      total += n + 1;
      offset += n + 2;
    } else {
      total += 257 - n;
      offset += 2;
    }
  }
  return total;
}

/** `N G obj …` texts, found by one pass over the file the first time an indirect value is needed. */
class IndirectObjects {
  private headers?: Map<string, number>;

  constructor(private readonly bytes: Buffer) {}

  /** The first few hundred characters of object `N G` after its header, or undefined. */
  text(number: string, generation: string): string | undefined {
    this.headers ??= this.index();
    const at = this.headers.get(`${Number(number)} ${Number(generation)}`);
    return at === undefined
      ? undefined
      : this.bytes.toString('latin1', at, Math.min(this.bytes.length, at + OBJECT_WINDOW)).split('endobj')[0];
  }

  private index(): Map<string, number> {
    const headers = new Map<string, number>();
    const text = this.bytes.toString('latin1');
    for (const match of text.matchAll(/(?<!\d)(\d{1,10})\s+(\d{1,5})\s+obj\b/g)) {
      headers.set(`${Number(match[1])} ${Number(match[2])}`, match.index + match[0].length);
    }
    return headers;
  }
}
