import { SpanKind } from '@opentelemetry/api';
import type { AppMetrics } from '../telemetry/app-metrics';
import { STATUS } from '../telemetry/metric-names';
import { ATTR_DB_COLLECTION_NAME, ATTR_DB_OPERATION_BATCH_SIZE, ATTR_DB_OPERATION_NAME, ATTR_DB_SYSTEM_NAME } from '../telemetry/semconv';
import { withSpan } from '../telemetry/spans';
import { VectorStore, type VectorCollectionInfo, type VectorHit, type VectorRecord, type VectorSearchQuery } from './vector-store.port';

/**
 * Wraps an adapter so that every call is one `db.*` client span and one
 * vector_store_operations_total{operation,collection,status} with its duration.
 */
export class InstrumentedVectorStore extends VectorStore {
  readonly kind: string;

  constructor(
    private readonly inner: VectorStore,
    private readonly metrics: AppMetrics,
  ) {
    super();
    this.kind = inner.kind;
  }

  private measure<T>(
    operation: string,
    collection: string,
    work: () => Promise<T>,
    attributes: Record<string, string | number> = {},
  ): Promise<T> {
    const started = performance.now();
    return withSpan(
      `${operation} ${collection}`,
      () => ({
        [ATTR_DB_SYSTEM_NAME]: this.kind,
        [ATTR_DB_OPERATION_NAME]: operation,
        [ATTR_DB_COLLECTION_NAME]: collection,
        ...attributes,
      }),
      async () => {
        try {
          const result = await work();
          this.metrics.recordVectorStoreOperation(operation, collection, STATUS.success, (performance.now() - started) / 1000);
          return result;
        } catch (error) {
          this.metrics.recordVectorStoreOperation(operation, collection, STATUS.error, (performance.now() - started) / 1000);
          throw error;
        }
      },
      SpanKind.CLIENT,
    );
  }

  ensureCollection(collection: string, dimension: number): Promise<void> {
    return this.measure('ensure_collection', collection, () => this.inner.ensureCollection(collection, dimension));
  }

  upsert(collection: string, records: VectorRecord[]): Promise<void> {
    return this.measure('upsert', collection, () => this.inner.upsert(collection, records), {
      [ATTR_DB_OPERATION_BATCH_SIZE]: records.length,
    });
  }

  deleteByDocument(collection: string, tenantId: string, documentId: string): Promise<void> {
    return this.measure('delete', collection, () => this.inner.deleteByDocument(collection, tenantId, documentId));
  }

  deleteByKnowledgeBase(collection: string, tenantId: string, kbId: string): Promise<void> {
    return this.measure('delete', collection, () => this.inner.deleteByKnowledgeBase(collection, tenantId, kbId));
  }

  search(query: VectorSearchQuery): Promise<VectorHit[]> {
    return this.measure('search', query.collection, () => this.inner.search(query));
  }

  count(collection: string, filter?: { tenantId: string; kbId?: string }): Promise<number> {
    return this.measure('count', collection, () => this.inner.count(collection, filter));
  }

  listCollections(): Promise<VectorCollectionInfo[]> {
    return this.measure('list_collections', '*', () => this.inner.listCollections());
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
