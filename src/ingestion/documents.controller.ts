import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res, UploadedFile, UseInterceptors } from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiExtraModels,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiProblems } from '../common/api-problems.decorator';
import { IdParamPipe } from '../common/id-param.pipe';
import { cleanFileName } from '../common/names';
import { KB_ID } from '../common/route-params';
import { CurrentTenant, RequireScope, type TenantContext } from '../tenants';
import { DocumentDto, DocumentPageDto, DocumentQueryDto, UploadDocumentDto, UploadDocumentMultipartDto } from './documents.dto';
import { DocumentsService, type UploadedFile as StoredFile } from './documents.service';
import { UploadSizeInterceptor } from './upload-size.interceptor';

const DOC_ID = new IdParamPipe('document');
/** as stored: longer names are cut */
const MAX_FILE_NAME_CHARS = 500;

@ApiTags('documents')
@ApiBearerAuth()
@ApiSecurity('api-key')
@ApiProblems(401, 403)
@ApiExtraModels(UploadDocumentDto, UploadDocumentMultipartDto)
@Controller('v1/knowledge-bases/:kb_id/documents')
export class DocumentsController {
  constructor(private readonly documents: DocumentsService) {}

  @Post()
  @RequireScope('write')
  @UseInterceptors(UploadSizeInterceptor, FileInterceptor('file'))
  @ApiOperation({
    summary: 'Upload a document (write scope)',
    description:
      'JSON `{title?, content, metadata?}` or multipart `file` (+ `metadata` JSON text, `title`). Types: txt, md, html, pdf, docx, ' +
      'detected from the content and the name. Answers 202 with the queued document; the same content already in the KB answers 200 ' +
      "with the existing document and stores nothing. Past the tenant's max_documents (default TENANT_MAX_DOCUMENTS) the answer is " +
      '429 with problem type `quota-exceeded`; when the tenant already has INGESTION_MAX_PENDING_JOBS_PER_TENANT ingestion jobs queued or ' +
      'processing it is 429 `rate-limited` with `Retry-After` and `RateLimit-*-ingestion` headers (also sent on 202: the places left). ' +
      'Empty or 0-byte content is 422; multipart over MAX_UPLOAD_BYTES (JSON over BODY_LIMIT_BYTES) is 413.',
  })
  @ApiConsumes('application/json', 'multipart/form-data')
  @ApiBody({
    schema: { oneOf: [{ $ref: getSchemaPath(UploadDocumentDto) }, { $ref: getSchemaPath(UploadDocumentMultipartDto) }] },
  })
  @ApiAcceptedResponse({ type: DocumentDto, description: 'queued for ingestion' })
  @ApiOkResponse({ type: DocumentDto, description: 'the same content is already in this KB: the existing document' })
  @ApiProblems(400, 404, 413, 415, 422, 429)
  async upload(
    @CurrentTenant() tenant: TenantContext,
    @Param('kb_id', KB_ID) kbId: string,
    @Body() body: UploadDocumentDto,
    @UploadedFile() file: StoredFile | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<DocumentDto> {
    const named = file && { ...file, originalname: cleanFileName(file.originalname, MAX_FILE_NAME_CHARS) };
    const result = await this.documents.upload(tenant, kbId, body, named);
    res.status(result.created ? 202 : 200).set(result.headers);
    return result.document;
  }

  @Get()
  @RequireScope('read')
  @ApiOperation({ summary: "List a KB's documents, optionally by status (read scope)" })
  @ApiOkResponse({ type: DocumentPageDto })
  @ApiProblems(404, 422)
  list(
    @CurrentTenant() tenant: TenantContext,
    @Param('kb_id', KB_ID) kbId: string,
    @Query() query: DocumentQueryDto,
  ): Promise<DocumentPageDto> {
    return this.documents.list(tenant, kbId, query);
  }

  @Get(':doc_id')
  @RequireScope('read')
  @ApiOperation({ summary: 'Get a document with its status, progress, chunk count and error (read scope)' })
  @ApiOkResponse({ type: DocumentDto })
  @ApiProblems(404)
  get(
    @CurrentTenant() tenant: TenantContext,
    @Param('kb_id', KB_ID) kbId: string,
    @Param('doc_id', DOC_ID) id: string,
  ): Promise<DocumentDto> {
    return this.documents.get(tenant, kbId, id);
  }

  @Delete(':doc_id')
  @HttpCode(204)
  @RequireScope('write')
  @ApiOperation({ summary: 'Delete a document with its chunks, vectors and lexical entries; cancels its ingestion (write scope)' })
  @ApiNoContentResponse()
  @ApiProblems(404)
  delete(@CurrentTenant() tenant: TenantContext, @Param('kb_id', KB_ID) kbId: string, @Param('doc_id', DOC_ID) id: string): Promise<void> {
    return this.documents.delete(tenant, kbId, id);
  }

  @Post(':doc_id/reindex')
  @HttpCode(202)
  @RequireScope('write')
  @ApiOperation({
    summary: "Re-index a document with its KB's current chunker and embedding model (write scope)",
    description:
      'A document not already queued or processing needs a place under INGESTION_MAX_PENDING_JOBS_PER_TENANT, as an upload does (429 otherwise).',
  })
  @ApiAcceptedResponse({ type: DocumentDto })
  @ApiProblems(404, 429)
  async reindex(
    @CurrentTenant() tenant: TenantContext,
    @Param('kb_id', KB_ID) kbId: string,
    @Param('doc_id', DOC_ID) id: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<DocumentDto> {
    const result = await this.documents.reindex(tenant, kbId, id);
    res.set(result.headers);
    return result.document;
  }
}
