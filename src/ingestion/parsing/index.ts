export type { DocumentParseFailure } from './parse-errors';
export { DocumentParseError } from './parse-errors';
export type { DocumentType } from './document-type';
export { detectDocumentType, DOCUMENT_MIME_TYPES, DOCUMENT_TYPES } from './document-type';
export type { DocumentStructure, ParsedDocument, ParseOptions } from './document-parser';
export { parseDocument } from './document-parser';
