import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { HasNoControlCharacters } from '../common/names';
import { PageQueryDto } from '../common/pagination';
import { FreeFormJson } from '../common/validation';
import { documentMetadataProblem, METADATA_LIMITS, METADATA_MAX_BYTES } from './document-metadata.validation';

export const DOCUMENT_STATUSES = ['queued', 'processing', 'indexed', 'failed'] as const;

/**
 * JSON upload, or the text fields of a multipart upload (`file` + optional `metadata` as JSON
 * text and `title`). `content` is required without a file.
 */
export class UploadDocumentDto {
  @ApiPropertyOptional({ maxLength: 500, example: 'Employee handbook' })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  @HasNoControlCharacters()
  title?: string;

  @ApiPropertyOptional({
    description: 'the document text (txt, markdown or html, detected from the content); required for JSON uploads',
    example: '# Leave\nEvery employee has 25 days…',
  })
  @IsOptional()
  @IsString()
  content?: string;

  @ApiPropertyOptional({
    description:
      'key/value metadata, returned with retrieved chunks; its top-level fields are usable in retrieval filters. In multipart, a JSON text. ' +
      `At most ${METADATA_MAX_BYTES / 1024} KiB as JSON, ${METADATA_LIMITS.maxDepth} levels deep, ${METADATA_LIMITS.maxObjectKeys} keys per object, ` +
      `${METADATA_LIMITS.maxArrayItems} items per array and ${METADATA_LIMITS.maxEntries} keys and items in all`,
    type: 'object',
    additionalProperties: true,
    example: { lang: 'en', year: 2024 },
  })
  @FreeFormJson({
    problems: (raw, field) => {
      const problem = documentMetadataProblem(raw);
      return problem === undefined ? [] : [{ field, message: `${field} ${problem}` }];
    },
    toValue: (raw) => raw,
  })
  metadata?: unknown;
}

export class UploadDocumentMultipartDto {
  @ApiProperty({
    type: 'string',
    format: 'binary',
    description: 'txt, md, html, pdf or docx; the type is detected from the content and the name',
  })
  file: unknown;

  @ApiPropertyOptional({ description: 'JSON object text', example: '{"lang":"en"}' })
  metadata?: string;

  @ApiPropertyOptional({ maxLength: 500, description: 'defaults to the title found in the document, else the file name' })
  title?: string;
}

export class DocumentQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: DOCUMENT_STATUSES })
  @IsOptional()
  @IsIn(DOCUMENT_STATUSES)
  status?: (typeof DOCUMENT_STATUSES)[number];
}

export class DocumentDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) kb_id: string;
  @ApiProperty({ nullable: true, type: String }) title: string | null;
  @ApiProperty({ nullable: true, type: String }) file_name: string | null;
  @ApiProperty({ enum: ['txt', 'md', 'html', 'pdf', 'docx'] }) content_type: string;
  @ApiProperty({ description: 'sha256 of the uploaded bytes' }) content_hash: string;
  @ApiProperty() size_bytes: number;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata: Record<string, unknown>;
  @ApiProperty({ enum: DOCUMENT_STATUSES }) status: string;
  @ApiProperty({ minimum: 0, maximum: 1, description: 'share of the pipeline done (parse, chunk, embed, index)' }) progress: number;
  @ApiProperty() chunk_count: number;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'why the document failed' }) error: string | null;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ format: 'date-time' }) updated_at: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) indexed_at: string | null;
}

export class DocumentPageDto {
  @ApiProperty({ type: [DocumentDto] }) items: DocumentDto[];
  @ApiProperty({ nullable: true, type: String }) next_cursor: string | null;
}
