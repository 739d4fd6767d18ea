import { AppError } from '../../common/errors';

/** Why a document of a supported type yielded no usable text. */
export type DocumentParseFailure = 'empty' | 'corrupt' | 'encrypted' | 'no_text' | 'too_large' | 'timeout' | 'invalid' | 'parser_error';

/**
 * A document of a supported type could not be turned into text (422). Thrown by
 * `detectDocumentType` for empty content and by `parseDocument`; `reason` says why.
 */
export class DocumentParseError extends AppError {
  readonly status = 422;
  readonly title = 'Unprocessable Document';
  readonly code = 'document-unparseable';

  constructor(
    readonly reason: DocumentParseFailure,
    message: string,
  ) {
    super(message);
    this.extensions.reason = reason;
  }
}
