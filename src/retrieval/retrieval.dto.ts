import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { toMetadataFilter, type MetadataFilter } from '../common/metadata-filter';
import { FreeFormJson } from '../common/validation';
import { metadataFilterProblems } from './metadata-filter.validation';
import { FUSION_METHODS, type FusionMethod } from './fusion';

export const RETRIEVERS = ['dense', 'sparse', 'hybrid'] as const;
export type RetrieverType = (typeof RETRIEVERS)[number];

/** a question, not a document: longer queries are refused rather than silently cut */
export const MAX_QUERY_CHARS = 4000;
export const MAX_TOP_K = 100;
export const MAX_KB_IDS = 20;
/** at least one letter or digit: a query of only spaces or punctuation asks nothing */
const HAS_WORD = /[\p{L}\p{N}]/u;

export class FusionSettingsDto {
  @ApiPropertyOptional({
    enum: FUSION_METHODS,
    description:
      '`rrf`: reciprocal rank fusion, Σ weight / (k + rank); `convex`: dense weight × cosine + sparse weight × BM25 score / best BM25 score. Default (HYBRID_FUSION=auto): `convex` when every KB searched uses an offline embedding model, `rrf` otherwise',
  })
  @IsOptional()
  @IsIn(FUSION_METHODS)
  method?: FusionMethod;

  @ApiPropertyOptional({
    description:
      'weight of the dense ranking (default HYBRID_DENSE_WEIGHT, or HYBRID_OFFLINE_DENSE_WEIGHT when every KB searched uses an offline model)',
    minimum: 0,
    maximum: 10,
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(10)
  dense_weight?: number;

  @ApiPropertyOptional({ description: 'weight of the sparse (BM25) ranking (default HYBRID_SPARSE_WEIGHT)', minimum: 0, maximum: 10 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(10)
  sparse_weight?: number;

  @ApiPropertyOptional({
    description: 'RRF constant k (score = Σ weight / (k + rank)); `rrf` only',
    minimum: 1,
    maximum: 1000,
    default: 60,
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  k?: number;
}

/** The fields /v1/retrieve and /v1/rag share. */
export class QueryTargetDto {
  @ApiProperty({ example: 'How are API keys stored?', maxLength: MAX_QUERY_CHARS })
  @IsString()
  @MaxLength(MAX_QUERY_CHARS)
  @Matches(HAS_WORD, { message: 'query must contain at least one letter or digit' })
  query: string;

  @ApiProperty({ type: [String], format: 'uuid', minItems: 1, maxItems: MAX_KB_IDS, description: "knowledge bases of the caller's tenant" })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_KB_IDS)
  @ArrayUnique()
  @IsUUID('all', { each: true, message: 'each kb_ids entry must be a UUID' })
  kb_ids: string[];

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_TOP_K, default: 10 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_TOP_K)
  top_k?: number;

  @ApiPropertyOptional({
    description: 'document metadata: a field equals a value, or is one of a list',
    example: { lang: 'en', year: { in: [2023, 2024] } },
    type: 'object',
    additionalProperties: true,
  })
  @FreeFormJson({
    // one error on `filters`, its message naming each wrong part (`filters.year.in: …`)
    problems: (raw, field) => {
      const problems = raw == null ? [] : metadataFilterProblems(raw, field);
      return problems.length === 0 ? [] : [{ field, message: problems.map((p) => `${p.field}: ${p.message}`).join('; ') }];
    },
    toValue: (raw) => (raw == null ? undefined : toMetadataFilter(raw)),
  })
  filters?: MetadataFilter;
}

export class RetrieveRequestDto extends QueryTargetDto {
  @ApiPropertyOptional({ enum: RETRIEVERS, default: 'hybrid' })
  @IsOptional()
  @IsIn(RETRIEVERS)
  retriever?: RetrieverType;

  @ApiPropertyOptional({ description: "drop results scoring below this (on the answer's `score` scale)" })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  score_threshold?: number;

  @ApiPropertyOptional({ description: 'add each result’s dense and sparse score/rank and fused score', default: false })
  @IsOptional()
  @IsBoolean()
  explain?: boolean;

  @ApiPropertyOptional({ type: FusionSettingsDto, description: 'hybrid only: how the dense and sparse rankings are fused' })
  @IsOptional()
  @ValidateNested()
  @Type(() => FusionSettingsDto)
  fusion?: FusionSettingsDto;
}

export class RetrievalExplanationDto {
  @ApiPropertyOptional({ nullable: true, type: Number }) dense_score: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) dense_rank: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) sparse_score: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) sparse_rank: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) fused_score: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'score given by the reranker, when one is configured' }) rerank_score?:
    number | null;
}

export class RetrievedChunkDto {
  @ApiProperty({ format: 'uuid' }) chunk_id: string;
  @ApiProperty({ format: 'uuid' }) document_id: string;
  @ApiProperty({ format: 'uuid' }) kb_id: string;
  @ApiProperty() text: string;
  @ApiProperty({
    description:
      'dense: cosine similarity; sparse: BM25; hybrid: the fused score (convex combination on offline embedders, RRF otherwise; see fusion.method); reranked: the reranker score',
  })
  score: number;
  @ApiProperty({ type: 'object', additionalProperties: true, description: "the document's metadata" }) metadata: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: String }) document_title: string | null;
  @ApiProperty({ description: 'position of the chunk within its document, from 0' }) chunk_index: number;
  @ApiPropertyOptional({ type: RetrievalExplanationDto }) explain?: RetrievalExplanationDto;
}

export class RetrieveResponseDto {
  @ApiProperty({ type: [RetrievedChunkDto] }) results: RetrievedChunkDto[];
  @ApiProperty({ enum: RETRIEVERS }) retriever: RetrieverType;
  @ApiProperty({ description: 'server-side time in milliseconds' }) took_ms: number;
}
