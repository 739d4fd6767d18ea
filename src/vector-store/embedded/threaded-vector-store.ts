import { extname, join } from 'node:path';
import { PortThread } from '../../common/port-thread';
import { VectorStore, type VectorCollectionInfo, type VectorHit, type VectorRecord, type VectorSearchQuery } from '../vector-store.port';
import type { EmbeddedVectorStoreOptions, PartitionStats } from './embedded-vector-store';

/**
 * The embedded vector store on its own worker thread (`PortThread`): same files, same behaviour,
 * but its scans and graph searches no longer hold the event loop that serves HTTP.
 */
export class ThreadedVectorStore extends VectorStore {
  readonly kind = 'embedded';
  private readonly thread: PortThread;

  constructor(options: EmbeddedVectorStoreOptions) {
    super();
    this.thread = new PortThread({
      modulePath: join(__dirname, `embedded-vector-store${extname(__filename)}`),
      exportName: 'EmbeddedVectorStore',
      argument: options,
      name: 'embedded vector store',
    });
  }

  /** opens the store on its thread now (the first call would otherwise) */
  start(): Promise<void> {
    return this.thread.start();
  }

  ensureCollection(collection: string, dimension: number): Promise<void> {
    return this.thread.call('ensureCollection', collection, dimension);
  }

  upsert(collection: string, records: VectorRecord[]): Promise<void> {
    return this.thread.call('upsert', collection, records);
  }

  deleteByDocument(collection: string, tenantId: string, documentId: string): Promise<void> {
    return this.thread.call('deleteByDocument', collection, tenantId, documentId);
  }

  deleteByKnowledgeBase(collection: string, tenantId: string, kbId: string): Promise<void> {
    return this.thread.call('deleteByKnowledgeBase', collection, tenantId, kbId);
  }

  search(query: VectorSearchQuery): Promise<VectorHit[]> {
    const { collection, tenantId, kbIds, vector, topK, filter } = query;
    return this.thread.call('search', { collection, tenantId, kbIds, vector, topK, filter });
  }

  count(collection: string, filter?: { tenantId: string; kbId?: string }): Promise<number> {
    return this.thread.call('count', collection, filter);
  }

  listCollections(): Promise<VectorCollectionInfo[]> {
    return this.thread.call('listCollections');
  }

  partitionStats(collection: string): Promise<PartitionStats[]> {
    return this.thread.call('partitionStats', collection);
  }

  ping(): Promise<void> {
    return this.thread.call('ping');
  }

  close(): Promise<void> {
    return this.thread.close();
  }

  /** the thread itself, for tests that stop it */
  get portThread(): PortThread {
    return this.thread;
  }
}
