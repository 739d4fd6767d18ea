import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems.decorator';
import { PageQueryDto } from '../common/pagination';
import { KB_ID } from '../common/route-params';
import { CurrentTenant, RequireScope, type TenantContext } from '../tenants';
import { CreateKnowledgeBaseDto, KnowledgeBaseDto, KnowledgeBasePageDto, UpdateKnowledgeBaseDto } from './knowledge-bases.dto';
import { KnowledgeBasesService } from './knowledge-bases.service';

@ApiTags('knowledge-bases')
@ApiBearerAuth()
@ApiSecurity('api-key')
@ApiProblems(401, 403)
@Controller('v1/knowledge-bases')
export class KnowledgeBasesController {
  constructor(private readonly kbs: KnowledgeBasesService) {}

  @Post()
  @RequireScope('admin')
  @ApiOperation({ summary: 'Create a knowledge base (admin scope); past TENANT_MAX_KNOWLEDGE_BASES of the tenant: 429 quota-exceeded' })
  @ApiCreatedResponse({ type: KnowledgeBaseDto })
  @ApiProblems(400, 409, 413, 422, 429)
  create(@CurrentTenant() tenant: TenantContext, @Body() body: CreateKnowledgeBaseDto): Promise<KnowledgeBaseDto> {
    return this.kbs.create(tenant, body);
  }

  @Get()
  @RequireScope('read')
  @ApiOperation({ summary: "List the tenant's knowledge bases (read scope)" })
  @ApiOkResponse({ type: KnowledgeBasePageDto })
  @ApiProblems(422)
  list(@CurrentTenant() tenant: TenantContext, @Query() query: PageQueryDto): Promise<KnowledgeBasePageDto> {
    return this.kbs.list(tenant, query.limit, query.cursor);
  }

  @Get(':kb_id')
  @RequireScope('read')
  @ApiOperation({ summary: 'Get a knowledge base (read scope)' })
  @ApiOkResponse({ type: KnowledgeBaseDto })
  @ApiProblems(404)
  get(@CurrentTenant() tenant: TenantContext, @Param('kb_id', KB_ID) id: string): Promise<KnowledgeBaseDto> {
    return this.kbs.get(tenant, id);
  }

  @Patch(':kb_id')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Update a knowledge base (admin scope); a new chunker or embedding model re-indexes its documents' })
  @ApiOkResponse({ type: KnowledgeBaseDto })
  @ApiProblems(400, 404, 409, 413, 422)
  update(
    @CurrentTenant() tenant: TenantContext,
    @Param('kb_id', KB_ID) id: string,
    @Body() body: UpdateKnowledgeBaseDto,
  ): Promise<KnowledgeBaseDto> {
    return this.kbs.update(tenant, id, body);
  }

  @Delete(':kb_id')
  @HttpCode(204)
  @RequireScope('admin')
  @ApiOperation({ summary: 'Delete a knowledge base with its documents, chunks, vectors and lexical entries (admin scope)' })
  @ApiNoContentResponse()
  @ApiProblems(404)
  delete(@CurrentTenant() tenant: TenantContext, @Param('kb_id', KB_ID) id: string): Promise<void> {
    return this.kbs.delete(tenant, id);
  }
}
