import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { NotFoundError } from '../common/errors';
import type { MetadataFilter } from '../common/metadata-filter';
import type { KnowledgeBaseEntity } from '../database';
import { isOfflineModel } from '../embeddings';
import { KnowledgeBasesRepository } from '../knowledge-bases';
import { AppMetrics } from '../telemetry/app-metrics';
import { withSpan } from '../telemetry/spans';
import type { TenantContext } from '../tenants';
import { ChunkLookupRepository, type ChunkView } from './chunk-lookup.repository';
import { DenseRetriever, SparseRetriever } from './retrievers';
import { fuseConvex, fuseReciprocalRank, singleRanking, type FusedHit, type FusionMethod, type FusionWeights } from './fusion';
import { Reranker } from './reranker.port';
import type { RetrieverType } from './retrieval.dto';

export interface RetrievalRequest {
  query: string;
  kbIds: string[];
  topK: number;
  retriever: RetrieverType;
  filters?: MetadataFilter;
  scoreThreshold?: number;
  fusion?: Partial<FusionWeights> & { method?: FusionMethod };
  signal?: AbortSignal;
}

export interface RetrievedChunk {
  chunkId: string;
  documentId: string;
  kbId: string;
  text: string;
  score: number;
  documentTitle: string | null;
  /** the chunk's index within its document */
  position: number;
  /** the document's metadata */
  metadata: Record<string, unknown>;
  explain: {
    denseScore: number | null;
    denseRank: number | null;
    sparseScore: number | null;
    sparseRank: number | null;
    fusedScore: number | null;
    rerankScore: number | null;
  };
}

export interface RetrievalOutcome {
  results: RetrievedChunk[];
  retriever: RetrieverType;
  tookMs: number;
}

/** how many candidates each retriever hands to fusion, at least */
const MIN_FUSION_DEPTH = 50;
/** how many fused candidates a reranker sees, at least */
const MIN_RERANK_DEPTH = 20;

/**
 * Dense, sparse and hybrid retrieval over knowledge bases of one tenant: search, fuse (RRF or a
 * convex combination of normalized scores, `fusion.ts`),
 * rerank when a reranker is configured, then read the winners' text and metadata in one query.
 */
@Injectable()
export class RetrievalService {
  private readonly defaultFusion: AppConfig['retrieval']['fusion'];

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly kbs: KnowledgeBasesRepository,
    private readonly dense: DenseRetriever,
    private readonly sparse: SparseRetriever,
    private readonly chunks: ChunkLookupRepository,
    @Inject(Reranker) private readonly reranker: Reranker | null,
    private readonly metrics: AppMetrics,
  ) {
    this.defaultFusion = { ...config.retrieval.fusion };
    this.captureQuery = config.captureMessageContent;
  }

  /** the query text on the span, only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT opts in */
  private readonly captureQuery: boolean;

  /** The caller's KBs by id, in the order asked; any unknown or foreign id is a 404. */
  async requireKnowledgeBases(tenant: TenantContext, ids: readonly string[]): Promise<KnowledgeBaseEntity[]> {
    const wanted = [...new Set(ids.map((id) => id.toLowerCase()))];
    const found = new Map((await this.kbs.findByIds(tenant, wanted)).map((kb) => [kb.id, kb]));
    const missing = wanted.find((id) => !found.has(id));
    if (missing !== undefined) throw new NotFoundError('knowledge base', missing);
    return wanted.map((id) => found.get(id)!);
  }

  async retrieve(tenant: TenantContext, request: RetrievalRequest, knowledgeBases?: KnowledgeBaseEntity[]): Promise<RetrievalOutcome> {
    const started = performance.now();
    const kbs = knowledgeBases ?? (await this.requireKnowledgeBases(tenant, request.kbIds));
    const kbIds = kbs.map((kb) => kb.id);
    const attributes = () => ({
      'tenant.id': tenant.tenantId,
      'kb.id': kbIds,
      'retrieval.retriever': request.retriever,
      'retrieval.top_k': request.topK,
      ...(this.captureQuery ? { 'retrieval.query.text': request.query } : {}),
    });
    const results = await withSpan('retrieval.retrieve', attributes, async () => {
      const fused = await this.candidates(tenant, request, kbs, kbIds);
      const { ranked, views } = await this.rerankIfConfigured(tenant, request, fused);
      const kept = request.scoreThreshold === undefined ? ranked : ranked.filter((hit) => hit.final >= request.scoreThreshold!);
      return this.materialize(tenant, kept.slice(0, request.topK), kbIds, request.retriever === 'hybrid', views);
    });
    for (const kbId of kbIds) this.metrics.recordRetrieval(request.retriever, kbId);
    return { results, retriever: request.retriever, tookMs: Math.round((performance.now() - started) * 100) / 100 };
  }

  private async candidates(
    tenant: TenantContext,
    request: RetrievalRequest,
    kbs: KnowledgeBaseEntity[],
    kbIds: string[],
  ): Promise<FusedHit[]> {
    const depth = this.reranker ? Math.max(request.topK * 2, MIN_RERANK_DEPTH) : request.topK;
    const search = { tenantId: tenant.tenantId, query: request.query, filter: request.filters, signal: request.signal };
    if (request.retriever === 'dense') return singleRanking(await this.dense.search({ ...search, kbs, topK: depth }), 'dense');
    if (request.retriever === 'sparse') return singleRanking(await this.sparse.search({ ...search, kbIds, topK: depth }), 'sparse');
    const fusionDepth = Math.max(depth, MIN_FUSION_DEPTH);
    const [dense, sparse] = await Promise.all([
      this.dense.search({ ...search, kbs, topK: fusionDepth }),
      this.sparse.search({ ...search, kbIds, topK: fusionDepth }),
    ]);
    const offlineOnly = kbs.every((kb) => isOfflineModel(kb.embeddingModel));
    const configuredMethod = this.defaultFusion.method;
    const method: FusionMethod =
      request.fusion?.method ?? (configuredMethod === 'auto' ? (offlineOnly ? 'convex' : 'rrf') : configuredMethod);
    const weights: FusionWeights = {
      dense: request.fusion?.dense ?? (offlineOnly ? this.defaultFusion.offlineDense : this.defaultFusion.dense),
      sparse: request.fusion?.sparse ?? this.defaultFusion.sparse,
      k: request.fusion?.k ?? this.defaultFusion.k,
    };
    return withSpan(
      'retrieval.fusion',
      () => ({
        'tenant.id': tenant.tenantId,
        'kb.id': kbIds,
        'retrieval.fusion.method': method,
        ...(method === 'rrf' ? { 'retrieval.fusion.k': weights.k } : {}),
        'retrieval.fusion.dense_weight': weights.dense,
        'retrieval.fusion.sparse_weight': weights.sparse,
      }),
      (span) => {
        const fused = (method === 'convex' ? fuseConvex(dense, sparse, weights) : fuseReciprocalRank(dense, sparse, weights)).slice(
          0,
          depth,
        );
        span.setAttribute('retrieval.candidates', fused.length);
        return fused;
      },
    );
  }

  /** The reranker's order, when one is configured; it needs the texts, which are then reused. */
  private async rerankIfConfigured(
    tenant: TenantContext,
    request: RetrievalRequest,
    hits: FusedHit[],
  ): Promise<{ ranked: Array<FusedHit & { final: number; rerank?: number }>; views?: Map<string, ChunkView> }> {
    const reranker = this.reranker;
    if (!reranker || hits.length === 0) return { ranked: hits.map((hit) => ({ ...hit, final: hit.score })) };
    return withSpan(
      'retrieval.rerank',
      () => ({ 'tenant.id': tenant.tenantId, 'rerank.provider': reranker.provider, 'retrieval.candidates': hits.length }),
      async () => {
        const views = await this.chunks.findByIds(
          tenant,
          hits.map((hit) => hit.id),
        );
        const present = hits.filter((hit) => views.has(hit.id));
        const order = await reranker.rerank(
          request.query,
          present.map((hit) => views.get(hit.id)!.text),
          Math.min(request.topK, present.length),
          request.signal,
        );
        const ranked = order
          .filter((entry) => entry.index >= 0 && entry.index < present.length)
          .sort((a, b) => b.score - a.score)
          .map((entry) => ({ ...present[entry.index], final: entry.score, rerank: entry.score }));
        return { ranked, views };
      },
    );
  }

  private async materialize(
    tenant: TenantContext,
    hits: Array<FusedHit & { final: number; rerank?: number }>,
    kbIds: string[],
    fused: boolean,
    known?: Map<string, ChunkView>,
  ): Promise<RetrievedChunk[]> {
    const allowed = new Set(kbIds);
    const views =
      known ??
      (await this.chunks.findByIds(
        tenant,
        hits.map((hit) => hit.id),
      ));
    const results: RetrievedChunk[] = [];
    for (const hit of hits) {
      const view = views.get(hit.id);
      if (!view || !allowed.has(view.kbId)) continue;
      results.push(toRetrievedChunk(hit, view, fused));
    }
    return results;
  }
}

function toRetrievedChunk(hit: FusedHit & { final: number; rerank?: number }, view: ChunkView, fused: boolean): RetrievedChunk {
  return {
    chunkId: view.id,
    documentId: view.documentId,
    kbId: view.kbId,
    text: view.text,
    score: hit.final,
    documentTitle: view.documentTitle,
    position: view.position,
    metadata: view.documentMetadata,
    explain: {
      denseScore: hit.dense?.score ?? null,
      denseRank: hit.dense?.rank ?? null,
      sparseScore: hit.sparse?.score ?? null,
      sparseRank: hit.sparse?.rank ?? null,
      fusedScore: fused ? hit.score : null,
      rerankScore: hit.rerank ?? null,
    },
  };
}
