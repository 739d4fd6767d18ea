import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional } from 'class-validator';
import { QueryTargetDto } from '../retrieval';

export const RAG_MODES = ['self-rag', 'standard'] as const;
export type RagMode = (typeof RAG_MODES)[number];

export class RagRequestDto extends QueryTargetDto {
  @ApiPropertyOptional({
    enum: RAG_MODES,
    default: 'self-rag',
    description: 'self-rag: decide, retrieve, grade, generate, check, rewrite and retry; standard: retrieve then generate',
  })
  @IsOptional()
  @IsIn(RAG_MODES)
  mode?: RagMode;

  @ApiPropertyOptional({
    default: false,
    description:
      'answer as text/event-stream: `step` and `delta` events as they come, then one `answer` event with the whole answer object',
  })
  @IsOptional()
  @IsBoolean()
  stream?: boolean;
}

export class CitationDto {
  @ApiProperty({ description: 'the [n] marker of the answer that points here' }) ref: number;
  @ApiProperty({ format: 'uuid' }) chunk_id: string;
  @ApiProperty({ format: 'uuid' }) document_id: string;
  @ApiProperty({ format: 'uuid' }) kb_id: string;
  @ApiProperty() text: string;
  @ApiProperty({ nullable: true, type: String }) document_title: string | null;
}

export class RelevanceVerdictDto {
  @ApiProperty({ format: 'uuid' }) chunk_id: string;
  @ApiProperty() relevant: boolean;
  @ApiPropertyOptional() score?: number;
  @ApiPropertyOptional({ description: 'the grader’s output could not be read; counted as not relevant' }) malformed?: boolean;
}

export class ReflectionDto {
  @ApiProperty({ description: 'whether retrieval was judged necessary' }) retrieve: boolean;
  @ApiProperty({ type: [RelevanceVerdictDto], description: 'ISREL per passage of the round whose answer is returned' })
  relevance: RelevanceVerdictDto[];
  @ApiProperty({ nullable: true, type: Boolean, description: 'ISSUP: every claim backed by the cited passages (null: not graded)' })
  supported: boolean | null;
  @ApiProperty({ nullable: true, type: Boolean, description: 'ISUSE: the answer is useful (null: not graded)' }) useful: boolean | null;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'ISUSE on the 1–5 scale, when the grader gave one' })
  usefulness_score?: number | null;
  @ApiProperty({ description: 'retrieval rounds run (rewrites + 1), at most SELF_RAG_MAX_ROUNDS' }) rounds: number;
  @ApiProperty({ type: [String], description: 'the query of each round: the question, then its rewrites' }) queries: string[];
}

export class UsageDto {
  @ApiProperty() input_tokens: number;
  @ApiProperty() output_tokens: number;
}

export class RagResponseDto {
  @ApiProperty() answer: string;
  @ApiProperty({ type: [CitationDto], description: 'only the passages the answer draws on' }) citations: CitationDto[];
  @ApiProperty({ type: ReflectionDto }) reflection: ReflectionDto;
  @ApiProperty({ type: UsageDto }) usage: UsageDto;
  @ApiProperty({ enum: RAG_MODES }) mode: RagMode;
  @ApiProperty({ description: 'offline (extractive) or the LLM provider' }) answerer: string;
  @ApiProperty() took_ms: number;
}
