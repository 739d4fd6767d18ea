import { describe, expect, it } from 'vitest';
import { DocumentParseError, detectDocumentType, parseDocument } from '../../../../src/ingestion/parsing';
import { CHINESE_TEXT, HTML_PAGE, makeDocx, makePdf, makeTextlessPdf, MARKDOWN_DOC } from '../../../fixtures/documents';

async function parseError(work: Promise<unknown>): Promise<DocumentParseError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DocumentParseError);
  return error as DocumentParseError;
}

describe('parseDocument', () => {
  it('extracts the text of every pdf page, in order, and the pdf title', async () => {
    const pdf = await makePdf(
      [['Self-RAG grades each passage.', 'Relevance comes first.'], ['Page two talks about support.']],
      'Self-RAG notes',
    );
    const parsed = await parseDocument(pdf, 'pdf');
    expect(parsed.title).toBe('Self-RAG notes');
    expect(parsed.structure.pages).toBe(2);
    expect(parsed.text).toContain('Self-RAG grades each passage.');
    expect(parsed.text.indexOf('Relevance comes first.')).toBeLessThan(parsed.text.indexOf('Page two talks about support.'));
    expect(parsed.text).toMatch(/first\.\n\nPage two/);
  });

  it('keeps docx headings as markdown headings for the markdown chunker', async () => {
    const parsed = await parseDocument(await makeDocx(), 'docx');
    expect(parsed.text).toContain('# Operations guide');
    expect(parsed.text).toContain('## Alerting');
    expect(parsed.text).toContain('The service exposes metrics on port 8020.');
    expect(parsed.text).toContain('当错误率超过千分之一时触发告警。');
    expect(parsed.structure.format).toBe('markdown');
    expect(parsed.structure.headings.map((h) => [h.level, h.title])).toEqual([
      [1, 'Operations guide'],
      [2, 'Alerting'],
      [2, '监控告警'],
    ]);
    expect(parsed.title).toBe('Operations guide');
  });

  it('turns html into text with # headings, the <title>, and no scripts, styles or link targets', async () => {
    const parsed = await parseDocument(Buffer.from(HTML_PAGE), 'html');
    expect(parsed.title).toBe('Retrieval & ranking');
    expect(parsed.text).toContain('# Hybrid retrieval');
    expect(parsed.text).toContain('## Reranking');
    expect(parsed.text).toContain('Dense and sparse results are fused with reciprocal rank fusion.');
    expect(parsed.text).not.toMatch(/secret|color: red|example\.org|diagram\.png|Home/);
    const offset = parsed.text.indexOf('## Reranking');
    expect(parsed.structure.headings.find((h) => h.title === 'Reranking')?.start).toBe(offset);
  });

  it('keeps markdown as written and reads its headings, not a # comment in a code block', async () => {
    const parsed = await parseDocument(Buffer.from(MARKDOWN_DOC), 'md');
    expect(parsed.text).toBe(MARKDOWN_DOC.trim());
    expect(parsed.title).toBe('Deployment');
    expect(parsed.structure.headings.map((h) => h.title)).toEqual(['Deployment', 'Probes', 'Liveness', 'Readiness', 'Scaling']);
  });

  it('decodes plain and Chinese text, normalising line ends', async () => {
    const parsed = await parseDocument(Buffer.from(`line one\r\nline two\r\n\r\n\r\n\r\n${CHINESE_TEXT}\n`), 'txt');
    expect(parsed.text).toBe(`line one\nline two\n\n${CHINESE_TEXT}`);
    expect(parsed.structure).toEqual({ format: 'plain', headings: [] });
    expect(parsed.title).toBeUndefined();
  });

  it('fails a corrupt pdf as corrupt', async () => {
    const good = await makePdf([['some text']]);
    const truncated = good.subarray(0, Math.floor(good.length / 3));
    expect(detectDocumentType(truncated, 'broken.pdf')).toBe('pdf');
    const error = await parseError(parseDocument(truncated, 'pdf'));
    expect(error.reason).toBe('corrupt');
    expect(error.status).toBe(422);
    expect((await parseError(parseDocument(Buffer.from('%PDF-1.7\nnothing else'), 'pdf'))).reason).toBe('corrupt');
  });

  it('fails a corrupt docx as corrupt', async () => {
    const good = await makeDocx();
    const error = await parseError(parseDocument(good.subarray(0, 200), 'docx'));
    expect(error.reason).toBe('corrupt');
    expect(error.message).toMatch(/docx could not be read/);
  });

  it('fails documents without text: white space only, a pdf with no text layer, html with only markup', async () => {
    expect((await parseError(parseDocument(Buffer.from(' \n\t\n'), 'txt'))).reason).toBe('no_text');
    expect((await parseError(parseDocument(await makeTextlessPdf(), 'pdf'))).reason).toBe('no_text');
    expect((await parseError(parseDocument(Buffer.from('<html><body><img src=a.png></body></html>'), 'html'))).reason).toBe('no_text');
  });

  it('refuses text past the size guard, naming the limit', async () => {
    const big = Buffer.from('word '.repeat(1000));
    const error = await parseError(parseDocument(big, 'txt', { maxTextChars: 100 }));
    expect(error.reason).toBe('too_large');
    expect(error.message).toContain('PARSE_MAX_TEXT_CHARS');
  });
});
