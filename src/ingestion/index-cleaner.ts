import { Injectable } from '@nestjs/common';
import { EmbeddingService } from '../embeddings';
import { LexicalIndex } from '../lexical-index';
import { vectorCollectionName, VectorStore } from '../vector-store';

/**
 * Where a model's vectors live, and removal of a document's or KB's entries from the vector
 * store and the lexical index. Removal covers every collection: after a KB changed its
 * embedding model, its older vectors sit in the previous model's collection.
 */
@Injectable()
export class IndexCleaner {
  private readonly collections = new Map<string, Promise<string>>();

  constructor(
    private readonly embeddings: EmbeddingService,
    private readonly vectors: VectorStore,
    private readonly lexical: LexicalIndex,
  ) {}

  /** The collection of a model's vectors, created on first use. */
  collectionFor(model: string): Promise<string> {
    let collection = this.collections.get(model);
    if (!collection) {
      collection = (async () => {
        const dimension = await this.embeddings.dimension(model);
        const name = vectorCollectionName(model, dimension);
        await this.vectors.ensureCollection(name, dimension);
        return name;
      })();
      collection.catch(() => this.collections.delete(model));
      this.collections.set(model, collection);
    }
    return collection;
  }

  async removeDocuments(documents: Array<{ tenantId: string; documentId: string }>): Promise<void> {
    if (documents.length === 0) return;
    const collections = await this.vectors.listCollections();
    for (const { tenantId, documentId } of documents) {
      for (const collection of collections) await this.vectors.deleteByDocument(collection.name, tenantId, documentId);
      await this.lexical.deleteByDocument(tenantId, documentId);
    }
  }

  async removeKnowledgeBase(tenantId: string, kbId: string): Promise<void> {
    for (const collection of await this.vectors.listCollections())
      await this.vectors.deleteByKnowledgeBase(collection.name, tenantId, kbId);
    await this.lexical.deleteByKnowledgeBase(tenantId, kbId);
  }
}
