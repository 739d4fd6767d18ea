import { Injectable } from '@nestjs/common';
import type { MetadataFilter } from '../common/metadata-filter';
import type { KnowledgeBaseEntity } from '../database';
import { EmbeddingService } from '../embeddings';
import { LexicalIndex } from '../lexical-index';
import { ATTR_DB_SYSTEM_NAME } from '../telemetry/semconv';
import { withSpan } from '../telemetry/spans';
import { VectorStore, vectorCollectionName } from '../vector-store';
import type { RankedHit } from './fusion';

interface SearchBase {
  tenantId: string;
  query: string;
  topK: number;
  filter?: MetadataFilter;
  signal?: AbortSignal;
}

/**
 * Vector search. KBs of one request may use different embedding models: the query is embedded
 * once per model, each model's collection searched for its KBs, and the hits merged by cosine.
 */
@Injectable()
export class DenseRetriever {
  /** collections known to exist: a KB with nothing indexed yet has none, and searching it finds nothing */
  private readonly ensuredCollections = new Set<string>();

  constructor(
    private readonly embeddings: EmbeddingService,
    private readonly vectors: VectorStore,
  ) {}

  search(request: SearchBase & { kbs: readonly KnowledgeBaseEntity[] }): Promise<RankedHit[]> {
    const byModel = new Map<string, string[]>();
    for (const kb of request.kbs) byModel.set(kb.embeddingModel, [...(byModel.get(kb.embeddingModel) ?? []), kb.id]);
    const kbIds = request.kbs.map((kb) => kb.id);
    return withSpan(
      'retrieval.dense_search',
      () => ({
        'tenant.id': request.tenantId,
        'kb.id': kbIds,
        'retrieval.top_k': request.topK,
        'retrieval.embedding_models': [...byModel.keys()],
      }),
      async (span) => {
        const perModel = await Promise.all(
          [...byModel].map(async ([model, ids]) => {
            const [vector] = await this.embeddings.embed(model, [request.query], request.signal);
            const collection = vectorCollectionName(model, vector.length);
            if (!this.ensuredCollections.has(collection)) {
              await this.vectors.ensureCollection(collection, vector.length);
              this.ensuredCollections.add(collection);
            }
            return this.vectors.search({
              collection,
              tenantId: request.tenantId,
              kbIds: ids,
              vector,
              topK: request.topK,
              filter: request.filter,
            });
          }),
        );
        const hits =
          perModel.length === 1
            ? perModel[0]
            : perModel
                .flat()
                .sort((a, b) => b.score - a.score)
                .slice(0, request.topK);
        span.setAttribute('retrieval.hits', hits.length);
        return hits;
      },
    );
  }
}

/** BM25 search over the lexical index of the tenant's KBs. */
@Injectable()
export class SparseRetriever {
  constructor(private readonly lexical: LexicalIndex) {}

  search(request: SearchBase & { kbIds: readonly string[] }): Promise<RankedHit[]> {
    return withSpan(
      'retrieval.sparse_search',
      () => ({
        'tenant.id': request.tenantId,
        'kb.id': [...request.kbIds],
        'retrieval.top_k': request.topK,
        [ATTR_DB_SYSTEM_NAME]: this.lexical.kind === 'postgres' ? 'postgresql' : this.lexical.kind,
      }),
      async (span) => {
        request.signal?.throwIfAborted();
        const hits = await this.lexical.search({
          tenantId: request.tenantId,
          kbIds: [...request.kbIds],
          query: request.query,
          topK: request.topK,
          filter: request.filter,
        });
        span.setAttribute('retrieval.hits', hits.length);
        return hits;
      },
    );
  }
}
