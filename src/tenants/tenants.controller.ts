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
import { IdParamPipe } from '../common/id-param.pipe';
import { PageQueryDto } from '../common/pagination';
import { CurrentPrincipal, PlatformAdmin, PlatformOrTenantAdmin } from './auth.decorators';
import type { Principal } from './principal';
import {
  ApiKeyPageDto,
  CreateApiKeyDto,
  CreatedApiKeyDto,
  CreateTenantDto,
  TenantDto,
  TenantPageDto,
  UpdateTenantDto,
} from './tenants.dto';
import { TenantsService } from './tenants.service';

@ApiTags('tenants')
@ApiBearerAuth()
@ApiSecurity('api-key')
@ApiProblems(401, 403)
@Controller('v1')
export class TenantsController {
  constructor(private readonly tenants: TenantsService) {}

  @Post('tenants')
  @PlatformAdmin()
  @ApiOperation({ summary: 'Create a tenant (platform admin key)' })
  @ApiCreatedResponse({ type: TenantDto })
  @ApiProblems(400, 413, 422)
  create(@Body() body: CreateTenantDto): Promise<TenantDto> {
    return this.tenants.create(body);
  }

  @Get('tenants')
  @PlatformAdmin()
  @ApiOperation({ summary: 'List tenants (platform admin key)' })
  @ApiOkResponse({ type: TenantPageDto })
  @ApiProblems(422)
  list(@Query() query: PageQueryDto): Promise<TenantPageDto> {
    return this.tenants.list(query.limit, query.cursor);
  }

  @Get('tenants/:id')
  @PlatformAdmin()
  @ApiOperation({ summary: 'Get a tenant (platform admin key)' })
  @ApiOkResponse({ type: TenantDto })
  @ApiProblems(404)
  get(@Param('id', new IdParamPipe('tenant')) id: string): Promise<TenantDto> {
    return this.tenants.get(id);
  }

  @Patch('tenants/:id')
  @PlatformAdmin()
  @ApiOperation({ summary: 'Rename a tenant or set its document quota (platform admin key)' })
  @ApiOkResponse({ type: TenantDto })
  @ApiProblems(400, 404, 422)
  update(@Param('id', new IdParamPipe('tenant')) id: string, @Body() body: UpdateTenantDto): Promise<TenantDto> {
    return this.tenants.update(id, body);
  }

  @Delete('tenants/:id')
  @HttpCode(204)
  @PlatformAdmin()
  @ApiOperation({ summary: 'Delete a tenant with all its keys, knowledge bases, documents and indexes (platform admin key)' })
  @ApiNoContentResponse()
  @ApiProblems(404)
  delete(@Param('id', new IdParamPipe('tenant')) id: string): Promise<void> {
    return this.tenants.delete(id);
  }

  @Post('tenants/:id/api-keys')
  @PlatformOrTenantAdmin()
  @ApiOperation({ summary: "Create an API key for a tenant (platform admin, or the tenant's admin key); the key is shown only here" })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiProblems(400, 404, 413, 422)
  createApiKey(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new IdParamPipe('tenant')) id: string,
    @Body() body: CreateApiKeyDto,
  ): Promise<CreatedApiKeyDto> {
    return this.tenants.createApiKey(principal, id, body);
  }

  @Get('tenants/:id/api-keys')
  @PlatformOrTenantAdmin()
  @ApiOperation({ summary: "List a tenant's API keys (never the secrets)" })
  @ApiOkResponse({ type: ApiKeyPageDto })
  @ApiProblems(404, 422)
  listApiKeys(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new IdParamPipe('tenant')) id: string,
    @Query() query: PageQueryDto,
  ): Promise<ApiKeyPageDto> {
    return this.tenants.listApiKeys(principal, id, query.limit, query.cursor);
  }

  @Delete('api-keys/:id')
  @HttpCode(204)
  @PlatformOrTenantAdmin()
  @ApiOperation({ summary: 'Revoke an API key; it is refused (401) from then on' })
  @ApiNoContentResponse()
  @ApiProblems(404)
  revokeApiKey(@CurrentPrincipal() principal: Principal, @Param('id', new IdParamPipe('api key')) id: string): Promise<void> {
    return this.tenants.revokeApiKey(principal, id);
  }
}
