import { describe, expect, it } from 'vitest';
import { UnsupportedMediaTypeError } from '../../../../src/common/errors';
import { detectDocumentType, DocumentParseError } from '../../../../src/ingestion/parsing';
import { binaryBytes, CHINESE_TEXT, HTML_PAGE, makeDocx, makePdf, MARKDOWN_DOC } from '../../../fixtures/documents';

const text = (s: string) => Buffer.from(s, 'utf8');

describe('detectDocumentType', () => {
  it('recognises a pdf by its %PDF- header whatever its name', async () => {
    const pdf = await makePdf([['hello']]);
    expect(detectDocumentType(pdf, 'report.pdf')).toBe('pdf');
    expect(detectDocumentType(pdf)).toBe('pdf');
    expect(detectDocumentType(pdf, 'upload.bin', 'application/octet-stream')).toBe('pdf');
  });

  it('recognises a docx as a zip holding word/document.xml', async () => {
    const docx = await makeDocx();
    expect(detectDocumentType(docx, 'guide.docx')).toBe('docx');
    expect(detectDocumentType(docx)).toBe('docx');
  });

  it('sniffs html from the content, and trusts a text name between text types', () => {
    expect(detectDocumentType(text(HTML_PAGE))).toBe('html');
    expect(detectDocumentType(text('  <!-- hi -->\n<div>x</div>'))).toBe('html');
    expect(detectDocumentType(text('plain words'), 'page.htm')).toBe('html');
    expect(detectDocumentType(text('<p align="center">logo</p>\n\n# Project'), 'README.md')).toBe('md');
  });

  it('tells markdown from plain text by name, MIME type or markdown signals', () => {
    expect(detectDocumentType(text(MARKDOWN_DOC))).toBe('md');
    expect(detectDocumentType(text('just words'), 'notes.markdown')).toBe('md');
    expect(detectDocumentType(text('just words'), undefined, 'text/markdown; charset=utf-8')).toBe('md');
    expect(detectDocumentType(text(MARKDOWN_DOC), 'notes.txt')).toBe('txt');
    expect(detectDocumentType(text('Plain text. Two sentences, no markup.'))).toBe('txt');
    expect(detectDocumentType(text(CHINESE_TEXT), '说明.txt')).toBe('txt');
  });

  it('reads UTF-16 text with a byte-order mark as text', () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('hello 世界', 'utf16le')]);
    expect(detectDocumentType(utf16, 'windows.txt')).toBe('txt');
  });

  it('refuses binary content named .txt with 415', () => {
    expect(() => detectDocumentType(binaryBytes(), 'notes.txt')).toThrow(UnsupportedMediaTypeError);
    expect(() => detectDocumentType(Buffer.from('text with a \u0000 NUL'), 'notes.txt')).toThrow(/binary/);
    // invalid UTF-8 (a lone continuation byte)
    expect(() => detectDocumentType(Buffer.from([0x61, 0x80, 0x62]), 'notes.txt')).toThrow(UnsupportedMediaTypeError);
  });

  it('refuses images, archives and executables, naming what they are', () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
    expect(() => detectDocumentType(png, 'photo.png')).toThrow(/PNG image/);
    expect(() => detectDocumentType(Buffer.from('MZ\x90\x00\x03', 'latin1'), 'setup.exe')).toThrow(/Windows executable/);
    const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from('....data.csv....')]);
    expect(() => detectDocumentType(zip, 'data.zip')).toThrow(/zip archive but not a Word/);
  });

  it('refuses content that contradicts its pdf or docx name', () => {
    expect(() => detectDocumentType(text('not really a pdf'), 'paper.pdf')).toThrow(UnsupportedMediaTypeError);
    expect(() => detectDocumentType(text('not a docx'), 'x', DOCUMENT_DOCX_MIME)).toThrow(/declared docx/);
  });

  it('answers an empty file with a DocumentParseError (422), not a type error', () => {
    const attempt = () => detectDocumentType(Buffer.alloc(0), 'empty.txt');
    expect(attempt).toThrow(DocumentParseError);
    try {
      attempt();
    } catch (error) {
      expect((error as DocumentParseError).status).toBe(422);
      expect((error as DocumentParseError).reason).toBe('empty');
    }
  });
});

const DOCUMENT_DOCX_MIME = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
