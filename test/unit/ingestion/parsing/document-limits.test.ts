import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DocumentParseError, parseDocument } from '../../../../src/ingestion/parsing';
import {
  chineseWithoutPunctuation,
  hiddenEndstreamFlate,
  inflatingDocx,
  lzwBomb,
  lyingDocx,
  makeDocxOf,
  makeFlateBombPdf,
  makeManyPagePdf,
  makeZip,
  nestedHtml,
} from '../../../fixtures/hostile-documents';

/** ASCII85 with `z` for zero groups, as pdf writers encode it. */
function ascii85(bytes: Buffer): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 4) {
    const chunk = Buffer.alloc(4);
    bytes.copy(chunk, 0, i, i + 4);
    const count = Math.min(4, bytes.length - i);
    let value = chunk.readUInt32BE(0);
    if (value === 0 && count === 4) {
      text += 'z';
      continue;
    }
    const digits: string[] = [];
    for (let d = 0; d < 5; d++) {
      digits.unshift(String.fromCharCode((value % 85) + 33));
      value = Math.floor(value / 85);
    }
    text += digits.slice(0, count + 1).join('');
  }
  return text;
}

async function refusal(work: Promise<unknown>): Promise<DocumentParseError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DocumentParseError);
  return error as DocumentParseError;
}

describe('the limits of parsing an untrusted document, checked before the work they guard', () => {
  it('refuses a docx whose central directory declares more than ZIP_MAX_UNCOMPRESSED_BYTES, before inflating it', async () => {
    const bomb = inflatingDocx();
    expect(bomb.length).toBeLessThan(400 * 1024);
    const started = performance.now();
    const error = await refusal(parseDocument(bomb, 'docx'));
    expect(error.reason).toBe('too_large');
    expect(error.message).toBe('the docx inflates beyond 50 MB (ZIP_MAX_UNCOMPRESSED_BYTES)');
    // mammoth alone took minutes on this file; the directory check reads a few hundred bytes
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('refuses an entry inflating more than ZIP_MAX_COMPRESSION_RATIO times its size', async () => {
    const error = await refusal(parseDocument(makeDocxOf(50_000), 'docx', { zipMaxUncompressedBytes: 1024 ** 3 }));
    expect(error.reason).toBe('too_large');
    expect(error.message).toMatch(/word\/document\.xml.* inflates \d+ times its size, more than ZIP_MAX_COMPRESSION_RATIO \(100\)/);
  });

  it('stops inflating a zip entry at the size its header declares: a header that lies gets nowhere', async () => {
    const error = await refusal(parseDocument(lyingDocx(), 'docx'));
    expect(error.reason).toBe('too_large');
    expect(error.message).toMatch(/inflates beyond the sizes it declares/);
  });

  it('counts actual inflated bytes against ZIP_MAX_UNCOMPRESSED_BYTES even when every header is modest', async () => {
    // each entry says 10 KB; the three together really inflate to ~3 MB
    const lie = (name: string) => ({ name, data: Buffer.alloc(1024 * 1024, 0x61), declaredSize: 10_000 });
    const zip = makeZip([lie('a.xml'), lie('b.xml'), lie('c.xml')]);
    const error = await refusal(
      parseDocument(zip, 'docx', { zipMaxUncompressedBytes: 2 * 1024 * 1024, zipMaxCompressionRatio: 1_000_000 }),
    );
    expect(error.reason).toBe('too_large');
  });

  it('refuses a zip with more entries than ZIP_MAX_ENTRIES', async () => {
    const zip = makeZip(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}.xml`, data: Buffer.from('<a/>') })));
    const error = await refusal(parseDocument(zip, 'docx', { zipMaxEntries: 10 }));
    expect(error.message).toBe('the docx holds 20 files, more than ZIP_MAX_ENTRIES (10)');
  });

  it('parses a docx within the limits', async () => {
    const parsed = await parseDocument(makeDocxOf(3, 'Jack works.'), 'docx');
    expect(parsed.text).toBe('Jack works.\n\nJack works.\n\nJack works.');
  });

  it('refuses a pdf with more pages than PDF_MAX_PAGES without extracting any', async () => {
    const error = await refusal(parseDocument(makeManyPagePdf(120), 'pdf', { pdfMaxPages: 100 }));
    expect(error.message).toBe('the pdf has 120 pages, more than PDF_MAX_PAGES (100)');
  });

  it('refuses a pdf whose streams inflate beyond PDF_MAX_INFLATED_BYTES before pdf.js reads it, holding none of it', async () => {
    const bomb = makeFlateBombPdf(1024);
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024);
    const external = process.memoryUsage().arrayBuffers;
    const error = await refusal(parseDocument(bomb, 'pdf'));
    expect(error.reason).toBe('too_large');
    expect(error.message).toBe("the pdf's streams inflate beyond 200 MB (PDF_MAX_INFLATED_BYTES)");
    // counted as it inflates, never held: pdf.js alone took over 1 GB outside the heap for this file
    expect(process.memoryUsage().arrayBuffers - external).toBeLessThan(32 * 1024 * 1024);
    // a small limit refuses a small stream; a stream within it is read as usual
    expect((await refusal(parseDocument(makeFlateBombPdf(2), 'pdf', { pdfMaxInflatedBytes: 1024 * 1024 }))).reason).toBe('too_large');
    expect((await parseDocument(makeFlateBombPdf(2), 'pdf')).text).toContain('bomb');
  });

  it('counts a pdf stream whatever its dictionary says: a false /Length, an image label, an endstream hidden in its data', async () => {
    const limits = { pdfMaxInflatedBytes: 8 * 1024 * 1024 };
    const falseLength = makeFlateBombPdf(16, { length: 'false', dictionary: '/Subtype /Image ' });
    expect((await refusal(parseDocument(falseLength, 'pdf', limits))).message).toContain('PDF_MAX_INFLATED_BYTES');
    // the data holds `endstream` in a stored block before the bomb; its true length is in object 6
    const hidden = makeFlateBombPdf(16, { data: await hiddenEndstreamFlate(16), length: 'indirect' });
    expect((await refusal(parseDocument(hidden, 'pdf', limits))).message).toContain('PDF_MAX_INFLATED_BYTES');
  });

  it('counts a pdf stream through its filter chain: LZW, RunLength, ASCIIHex around Flate, a filter named indirectly', async () => {
    const limits = { pdfMaxInflatedBytes: 8 * 1024 * 1024 };
    const flate = zlib.deflateSync(Buffer.alloc(16 * 1024 * 1024, 0x20));
    const hexWrapped = makeFlateBombPdf(0, { data: Buffer.from(`${flate.toString('hex')}>`), filter: '[/ASCIIHexDecode /FlateDecode]' });
    expect((await refusal(parseDocument(hexWrapped, 'pdf', limits))).message).toContain('PDF_MAX_INFLATED_BYTES');
    const indirect = makeFlateBombPdf(0, { data: Buffer.from(`${flate.toString('hex')}>`), filter: '[/AHx /Fl]', indirectFilter: true });
    expect((await refusal(parseDocument(indirect, 'pdf', limits))).message).toContain('PDF_MAX_INFLATED_BYTES');
    const ascii85Wrapped = makeFlateBombPdf(0, { data: Buffer.from(`${ascii85(flate)}~>`), filter: '[/ASCII85Decode /FlateDecode]' });
    expect((await refusal(parseDocument(ascii85Wrapped, 'pdf', limits))).message).toContain('PDF_MAX_INFLATED_BYTES');
    // RunLength: 2 bytes repeat one byte 128 times
    const runs = Buffer.alloc(2 * 128 * 1024, 0).fill(Buffer.from([129, 0x20]));
    const runLength = makeFlateBombPdf(0, { data: runs, filter: '/RunLengthDecode', length: 'indirect' });
    expect((await refusal(parseDocument(runLength, 'pdf', { pdfMaxInflatedBytes: 16 * 1024 * 1024 - 1 }))).message).toContain(
      'PDF_MAX_INFLATED_BYTES',
    );
  });

  it('counts an LZW stream code by code exactly as pdf.js decodes it', async () => {
    const lzw = lzwBomb('BT /F1 12 Tf 72 720 Td (head) Tj ', 3, ' (tail) Tj ET');
    expect(lzw.data.length).toBeLessThan(20_000);
    expect(lzw.decodedLength).toBeGreaterThan(20 * 1024 * 1024);
    const pdf = makeFlateBombPdf(0, { data: lzw.data, filter: '/LZWDecode' });
    expect((await refusal(parseDocument(pdf, 'pdf', { pdfMaxInflatedBytes: lzw.decodedLength - 1 }))).message).toContain(
      'PDF_MAX_INFLATED_BYTES',
    );
    // pdf.js reads the same codes: the text after the runs comes through
    expect((await parseDocument(pdf, 'pdf', { pdfMaxInflatedBytes: lzw.decodedLength })).text).toMatch(/head[\s\S]*tail/);
  });

  it('stops extracting a pdf once its text passes PARSE_MAX_TEXT_CHARS', async () => {
    const error = await refusal(parseDocument(makeManyPagePdf(50), 'pdf', { maxTextChars: 200 }));
    expect(error.reason).toBe('too_large');
    expect(error.message).toContain('PARSE_MAX_TEXT_CHARS');
    const parsed = await parseDocument(makeManyPagePdf(3), 'pdf');
    expect(parsed.text).toBe('Line 0\n\nLine 1\n\nLine 2');
    expect(parsed.structure.pages).toBe(3);
  });

  it('refuses html nested deeper than HTML_MAX_DEPTH (200k nested divs overflowed the parser’s stack)', async () => {
    const error = await refusal(parseDocument(nestedHtml(200_000), 'html'));
    expect(error.message).toBe('the html nests elements deeper than HTML_MAX_DEPTH (512)');
    expect((await parseDocument(nestedHtml(500), 'html')).text).toBe('deep');
  });

  it('refuses html with more elements than HTML_MAX_ELEMENTS', async () => {
    const html = Buffer.from(`<html><body>${'<p>x</p>'.repeat(2000)}</body></html>`);
    const error = await refusal(parseDocument(html, 'html', { htmlMaxElements: 1000 }));
    expect(error.message).toBe('the html has more elements than HTML_MAX_ELEMENTS (1000)');
  });

  it('decodes Chinese text without punctuation as it is', async () => {
    const parsed = await parseDocument(chineseWithoutPunctuation(1000), 'txt');
    expect(parsed.text).toHaveLength(1000);
  });
});
