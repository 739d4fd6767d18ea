import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiProblems } from '../common/api-problems.decorator';
import { abortedOnClientClose } from '../common/client-disconnect';
import { CurrentTenant, RequireScope, type TenantContext } from '../tenants';
import { RetrieveRequestDto, RetrieveResponseDto, type RetrievedChunkDto } from './retrieval.dto';
import { RetrievalService, type RetrievedChunk } from './retrieval.service';

export const DEFAULT_TOP_K = 10;

@ApiTags('retrieval')
@ApiBearerAuth()
@ApiSecurity('api-key')
@ApiProblems(401, 403)
@Controller('v1/retrieve')
export class RetrievalController {
  constructor(private readonly retrieval: RetrievalService) {}

  @Post()
  @HttpCode(200)
  @RequireScope('read')
  @ApiOperation({
    summary: 'Retrieve ranked chunks from knowledge bases of the tenant (read scope): dense, sparse (BM25) or hybrid (both, fused)',
  })
  @ApiOkResponse({ type: RetrieveResponseDto })
  @ApiProblems(400, 404, 413, 422, 502, 503, 504)
  async retrieve(
    @CurrentTenant() tenant: TenantContext,
    @Body() body: RetrieveRequestDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<RetrieveResponseDto | undefined> {
    // a client that goes away cancels the remote embedding and rerank calls still running for it
    const signal = abortedOnClientClose(res);
    let outcome: Awaited<ReturnType<RetrievalService['retrieve']>>;
    try {
      outcome = await this.retrieval.retrieve(tenant, {
        signal,
        query: body.query,
        kbIds: body.kb_ids,
        topK: body.top_k ?? DEFAULT_TOP_K,
        retriever: body.retriever ?? 'hybrid',
        filters: body.filters,
        scoreThreshold: body.score_threshold,
        fusion: body.fusion && {
          method: body.fusion.method,
          dense: body.fusion.dense_weight,
          sparse: body.fusion.sparse_weight,
          k: body.fusion.k,
        },
      });
    } catch (error) {
      // nobody is left to answer: the access log has the request as 499
      if (signal.aborted) return undefined;
      throw error;
    }
    return {
      results: outcome.results.map((chunk) => toRetrievedChunkDto(chunk, body.explain === true)),
      retriever: outcome.retriever,
      took_ms: outcome.tookMs,
    };
  }
}

export function toRetrievedChunkDto(chunk: RetrievedChunk, explain: boolean): RetrievedChunkDto {
  const dto: RetrievedChunkDto = {
    chunk_id: chunk.chunkId,
    document_id: chunk.documentId,
    kb_id: chunk.kbId,
    text: chunk.text,
    score: chunk.score,
    metadata: chunk.metadata,
    document_title: chunk.documentTitle,
    chunk_index: chunk.position,
  };
  if (explain) {
    dto.explain = {
      dense_score: chunk.explain.denseScore,
      dense_rank: chunk.explain.denseRank,
      sparse_score: chunk.explain.sparseScore,
      sparse_rank: chunk.explain.sparseRank,
      fused_score: chunk.explain.fusedScore,
      ...(chunk.explain.rerankScore !== null ? { rerank_score: chunk.explain.rerankScore } : {}),
    };
  }
  return dto;
}
