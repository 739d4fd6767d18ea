/**
 * What retrieval searches, for the unit tier: the real offline embedder behind the real
 * EmbeddingService, and the real embedded vector store and BM25 index on SQLite files in a temporary
 * directory (no server). Chunks are indexed straight into them, as an ingestion run would, with
 * their rows in the in-memory database the fake repositories share.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Provider } from '@nestjs/common';
import type { AppConfig } from '../../../src/config/app-config';
import { APP_CONFIG } from '../../../src/config/config.module';
import type { KnowledgeBaseEntity } from '../../../src/database/entities';
import { InProcessEmbeddingCache } from '../../../src/embeddings/embedding-cache';
import { EmbeddingProviderRegistry } from '../../../src/embeddings/embedding-provider.registry';
import { EmbeddingService } from '../../../src/embeddings/embedding.service';
import { OFFLINE_MODELS, OfflineEmbeddingProvider } from '../../../src/embeddings/offline';
import { EmbeddedLexicalIndex } from '../../../src/lexical-index/embedded/embedded-lexical-index';
import { LexicalIndex } from '../../../src/lexical-index/lexical-index.port';
import { vectorCollectionName } from '../../../src/vector-store/collection-name';
import { EmbeddedVectorStore } from '../../../src/vector-store/embedded/embedded-vector-store';
import { VectorStore } from '../../../src/vector-store/vector-store.port';
import { AppMetrics, appMetrics } from '../../../src/telemetry/app-metrics';
import type { InMemoryDatabase } from './in-memory-repositories';

export interface SeededDocument {
  tenantId: string;
  kb: KnowledgeBaseEntity;
  title?: string;
  metadata?: Record<string, unknown>;
  /** one chunk per text */
  chunks: string[];
}

export class SearchStack {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'unit-search-'));
  readonly vectors = new EmbeddedVectorStore({ dataDir: this.dataDir });
  readonly lexical = new EmbeddedLexicalIndex({ dataDir: this.dataDir });
  readonly embeddings: EmbeddingService;

  constructor(
    private readonly config: AppConfig,
    private readonly db: InMemoryDatabase,
  ) {
    const registry = new EmbeddingProviderRegistry(config.embedding.provider, Object.keys(OFFLINE_MODELS), {
      offline: () => new OfflineEmbeddingProvider(),
    });
    this.embeddings = new EmbeddingService(config, registry, new InProcessEmbeddingCache(1000), appMetrics());
  }

  /** Providers for a Nest testing module: the configuration, the embedding service and both indexes. */
  providers(): Provider[] {
    return [
      { provide: APP_CONFIG, useValue: this.config },
      { provide: EmbeddingService, useValue: this.embeddings },
      { provide: VectorStore, useValue: this.vectors },
      { provide: LexicalIndex, useValue: this.lexical },
      { provide: AppMetrics, useFactory: appMetrics },
    ];
  }

  async init(): Promise<void> {
    await this.lexical.init();
  }

  /** A KB row in the in-memory database. */
  knowledgeBase(tenantId: string, name: string, embeddingModel = 'offline-hash-v2'): KnowledgeBaseEntity {
    const now = new Date().toISOString();
    const kb: KnowledgeBaseEntity = {
      id: randomUUID(),
      tenantId,
      name,
      description: null,
      chunker: { type: 'recursive', chunk_size: 512, chunk_overlap: 64 },
      embeddingModel,
      createdAt: now,
      updatedAt: now,
    };
    this.db.knowledgeBases.set(kb.id, kb);
    return kb;
  }

  /** Stores an indexed document with its chunks and writes them to both indexes; returns the chunk ids. */
  async index(seed: SeededDocument): Promise<{ documentId: string; chunkIds: string[] }> {
    const documentId = randomUUID();
    const now = new Date().toISOString();
    this.db.documents.set(documentId, {
      id: documentId,
      tenantId: seed.tenantId,
      kbId: seed.kb.id,
      title: seed.title ?? null,
      fileName: null,
      contentType: 'txt',
      contentHash: randomUUID(),
      sizeBytes: seed.chunks.join('\n').length,
      metadata: seed.metadata ?? {},
      status: 'indexed',
      progress: 1,
      generation: 0,
      chunkCount: seed.chunks.length,
      error: null,
      createdAt: now,
      updatedAt: now,
      indexedAt: now,
    });
    const model = seed.kb.embeddingModel;
    const vectors = await this.embeddings.embed(model, seed.chunks);
    const collection = vectorCollectionName(model, vectors[0].length);
    await this.vectors.ensureCollection(collection, vectors[0].length);
    const chunkIds = seed.chunks.map(() => randomUUID());
    const base = { tenantId: seed.tenantId, kbId: seed.kb.id, documentId, metadata: seed.metadata };
    await this.vectors.upsert(
      collection,
      chunkIds.map((id, i) => ({ ...base, id, vector: vectors[i] })),
    );
    await this.lexical.upsert(chunkIds.map((id, i) => ({ ...base, id, text: seed.chunks[i] })));
    chunkIds.forEach((id, i) => {
      this.db.chunks.set(id, {
        id,
        tenantId: seed.tenantId,
        kbId: seed.kb.id,
        documentId,
        text: seed.chunks[i],
        position: i,
        headingPath: [],
        documentTitle: seed.title ?? null,
        documentMetadata: seed.metadata ?? {},
      });
    });
    return { documentId, chunkIds };
  }

  async close(): Promise<void> {
    await this.vectors.close();
    await this.lexical.close();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
