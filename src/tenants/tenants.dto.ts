import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { HasNoControlCharacters } from '../common/names';
import { IsTimestamp } from '../common/timestamps';
import type { ApiKeyScope } from '../database';

export const SCOPES: ApiKeyScope[] = ['admin', 'write', 'read'];

export class CreateTenantDto {
  @ApiProperty({ example: 'acme', minLength: 1, maxLength: 200 })
  @IsString()
  @Length(1, 200)
  @HasNoControlCharacters()
  name: string;

  @ApiPropertyOptional({ description: 'document quota; unset = TENANT_MAX_DOCUMENTS', minimum: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  max_documents?: number;
}

export class UpdateTenantDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  @HasNoControlCharacters()
  name?: string;

  @ApiPropertyOptional({ minimum: 0, nullable: true })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  max_documents?: number;
}

export class TenantDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ nullable: true, type: Number }) max_documents: number | null;
  @ApiProperty({ format: 'date-time' }) created_at: string;
}

export class TenantPageDto {
  @ApiProperty({ type: [TenantDto] }) items: TenantDto[];
  @ApiProperty({ nullable: true, type: String }) next_cursor: string | null;
}

export class CreateApiKeyDto {
  @ApiProperty({ example: 'ingestion-bot', minLength: 1, maxLength: 200 })
  @IsString()
  @Length(1, 200)
  @HasNoControlCharacters()
  name: string;

  @ApiProperty({ enum: SCOPES, isArray: true, example: ['read'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(3)
  @ArrayUnique()
  @IsIn(SCOPES, { each: true })
  scopes: ApiKeyScope[];

  @ApiPropertyOptional({
    format: 'date-time',
    description: 'the key is refused from this instant on: an RFC 3339 date-time with an offset, or a date (midnight UTC)',
  })
  @IsOptional()
  @IsTimestamp()
  expires_at?: string;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenant_id: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'public lookup part of the key (not a secret)' }) prefix: string;
  @ApiProperty({ enum: SCOPES, isArray: true }) scopes: ApiKeyScope[];
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) expires_at: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revoked_at: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) last_used_at: string | null;
  @ApiProperty({ format: 'date-time' }) created_at: string;
}

export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({ description: 'the secret key; shown only in this response' }) key: string;
}

export class ApiKeyPageDto {
  @ApiProperty({ type: [ApiKeyDto] }) items: ApiKeyDto[];
  @ApiProperty({ nullable: true, type: String }) next_cursor: string | null;
}
