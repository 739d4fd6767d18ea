import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Allow, IsIn, IsOptional, IsString, Length } from 'class-validator';
import { PageQueryDto } from '../common/pagination';

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
  title?: string;

  @ApiPropertyOptional({ description: 'the document text (txt, markdown or html, detected from the content); required for JSON uploads', example: '# Leave\nEvery employee has 25 days…' })
  @IsOptional()
  @IsString()
  content?: string;

  @ApiPropertyOptional({
    description: 'flat key/value metadata, returned with retrieved chunks and usable in retrieval filters; in multipart, a JSON text',
    type: 'object',
    additionalProperties: true,
    example: { lang: 'en', year: 2024 },
  })
  @Allow()
  metadata?: unknown;
}

export class UploadDocumentMultipartDto {
  @ApiProperty({ type: 'string', format: 'binary', description: 'txt, md, html, pdf or docx; the type is detected from the content and the name' })
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

