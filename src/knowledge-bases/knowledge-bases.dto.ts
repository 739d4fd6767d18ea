import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Length, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { HasNoControlCharacters } from '../common/names';

export const CHUNKER_TYPES = ['fixed', 'recursive', 'markdown', 'sentence'] as const;
export type ChunkerType = (typeof CHUNKER_TYPES)[number];

export class ChunkerSettingsDto {
  @ApiProperty({ enum: CHUNKER_TYPES, default: 'recursive' })
  @IsIn(CHUNKER_TYPES)
  type: ChunkerType;

  @ApiProperty({ description: 'target chunk size in tokens', minimum: 32, maximum: 8192, default: 512 })
  @IsInt()
  @Min(32)
  @Max(8192)
  chunk_size: number;

  @ApiProperty({
    description: 'tokens shared by neighbouring chunks; less than half of chunk_size',
    minimum: 0,
    maximum: 4096,
    default: 64,
  })
  @IsInt()
  @Min(0)
  @Max(4096)
  chunk_overlap: number;
}

export const DEFAULT_CHUNKER: ChunkerSettingsDto = { type: 'recursive', chunk_size: 512, chunk_overlap: 64 };

export class CreateKnowledgeBaseDto {
  @ApiProperty({ example: 'handbook', minLength: 1, maxLength: 200, description: 'unique within the tenant' })
  @IsString()
  @Length(1, 200)
  @HasNoControlCharacters()
  name: string;

  @ApiPropertyOptional({ maxLength: 2000 })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string;

  @ApiPropertyOptional({ type: ChunkerSettingsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => ChunkerSettingsDto)
  chunker?: ChunkerSettingsDto;

  @ApiPropertyOptional({ example: 'offline-hash-v2', description: 'defaults to EMBEDDING_MODEL' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  embedding_model?: string;
}

export class UpdateKnowledgeBaseDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  @HasNoControlCharacters()
  name?: string;

  @ApiPropertyOptional({ maxLength: 2000 })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string;

  @ApiPropertyOptional({ type: ChunkerSettingsDto, description: 'changing it re-indexes every document of the KB' })
  @IsOptional()
  @ValidateNested()
  @Type(() => ChunkerSettingsDto)
  chunker?: ChunkerSettingsDto;

  @ApiPropertyOptional({ description: 'changing it re-indexes every document of the KB' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  embedding_model?: string;
}

export class KnowledgeBaseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenant_id: string;
  @ApiProperty() name: string;
  @ApiProperty({ nullable: true, type: String }) description: string | null;
  @ApiProperty({ type: ChunkerSettingsDto }) chunker: ChunkerSettingsDto;
  @ApiProperty() embedding_model: string;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ format: 'date-time' }) updated_at: string;
}

export class KnowledgeBasePageDto {
  @ApiProperty({ type: [KnowledgeBaseDto] }) items: KnowledgeBaseDto[];
  @ApiProperty({ nullable: true, type: String }) next_cursor: string | null;
}
