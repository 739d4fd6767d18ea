import { describe, expect, it } from 'vitest';
import { DocumentParseError, parseDocument } from '../../../../src/ingestion/parsing';
import { chineseWithoutPunctuation, inflatingDocx, lyingDocx, makeDocxOf, makeManyPagePdf, makeZip, nestedHtml } from '../../../fixtures/hostile-documents';

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
    const error = await refusal(parseDocument(zip, 'docx', { zipMaxUncompressedBytes: 2 * 1024 * 1024, zipMaxCompressionRatio: 1_000_000 }));
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
