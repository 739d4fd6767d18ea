import type { QdrantClient, Schemas } from '@qdrant/js-client-rest';
import { ConflictError, DependencyError, ServiceUnavailableError, ValidationFailedError } from '../../common/errors';
import type { MetadataCondition, MetadataScalar } from '../../common/metadata-filter';
import { VectorStore, type VectorCollectionInfo, type VectorHit, type VectorRecord, type VectorSearchQuery } from '../vector-store.port';

export interface QdrantVectorStoreOptions {
  /** e.g. http://qdrant:6333 */
  url: string;
  apiKey?: string;
  /** per-request timeout (default 10 s) */
  timeoutMs?: number;
  /** points per upsert request (default 256) */
  batchSize?: number;
}

type Filter = Schemas['Filter'];
type Condition = Schemas['Condition'];

/** payload fields every query filters on; `tenant_id` is the tenant key of Qdrant's multitenancy */
const TENANT_FIELD = 'tenant_id';
const KB_FIELD = 'kb_id';
const DOCUMENT_FIELD = 'document_id';
const METADATA_FIELD = 'metadata';

/**
 * Qdrant adapter: one collection per embedding model/dimension shared by all tenants, with
 * `tenant_id` (indexed with `is_tenant`), `kb_id` and `document_id` as keyword payload indexes, as
 * Qdrant recommends for multitenancy. Every failure of Qdrant becomes a `DependencyError('qdrant', …)`.
 */
export class QdrantVectorStore extends VectorStore {
  readonly kind = 'qdrant';
  private readonly client: QdrantClient;
  private readonly batchSize: number;
  private readonly timeoutMs: number;
  /** collections known to exist with their dimension, so ensureCollection is one round trip at most once */
  private readonly dimensions = new Map<string, number>();
  private closed = false;

  constructor(options: QdrantVectorStoreOptions) {
    super();
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.batchSize = options.batchSize ?? 256;
    // required here, not at import: the embedded default never loads the client (nor its undici)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.client = new (require('@qdrant/js-client-rest') as typeof import('@qdrant/js-client-rest')).QdrantClient({
      url: options.url,
      apiKey: options.apiKey,
      timeout: this.timeoutMs,
      checkCompatibility: false,
    });
  }

  async ensureCollection(collection: string, dimension: number): Promise<void> {
    const known = this.dimensions.get(collection) ?? (await this.fetchDimension(collection));
    if (known !== undefined && known !== dimension) {
      throw new ConflictError(`vector collection '${collection}' has dimension ${known}, not ${dimension}`);
    }
    if (known === undefined) {
      try {
        await this.call('create collection', () =>
          this.client.createCollection(collection, { vectors: { size: dimension, distance: 'Cosine' } }),
        );
      } catch (error) {
        // another replica may have created it meanwhile; its dimension is checked below
        if (!(error instanceof DependencyError) || !/already exists/i.test(error.message)) throw error;
        const created = await this.fetchDimension(collection);
        if (created !== dimension) {
          throw new ConflictError(`vector collection '${collection}' has dimension ${created}, not ${dimension}`);
        }
      }
      await this.createPayloadIndexes(collection);
    }
    this.dimensions.set(collection, dimension);
  }

  async upsert(collection: string, records: VectorRecord[]): Promise<void> {
    for (let start = 0; start < records.length; start += this.batchSize) {
      const points = records.slice(start, start + this.batchSize).map((record) => ({
        id: record.id,
        vector: Array.from(record.vector),
        payload: {
          [TENANT_FIELD]: record.tenantId,
          [KB_FIELD]: record.kbId,
          [DOCUMENT_FIELD]: record.documentId,
          [METADATA_FIELD]: record.metadata ?? {},
        },
      }));
      await this.call('upsert', () => this.client.upsert(collection, { wait: true, points }));
    }
  }

  async deleteByDocument(collection: string, tenantId: string, documentId: string): Promise<void> {
    const filter: Filter = { must: [matchValue(TENANT_FIELD, tenantId), matchValue(DOCUMENT_FIELD, documentId)] };
    await this.call('delete', () => this.client.delete(collection, { wait: true, filter }));
  }

  async deleteByKnowledgeBase(collection: string, tenantId: string, kbId: string): Promise<void> {
    const filter: Filter = { must: [matchValue(TENANT_FIELD, tenantId), matchValue(KB_FIELD, kbId)] };
    await this.call('delete', () => this.client.delete(collection, { wait: true, filter }));
  }

  async search(query: VectorSearchQuery): Promise<VectorHit[]> {
    const kbIds = [...new Set(query.kbIds)];
    if (kbIds.length === 0 || query.topK <= 0) return [];
    const must: Condition[] = [matchValue(TENANT_FIELD, query.tenantId), { key: KB_FIELD, match: { any: kbIds } }];
    for (const [field, condition] of Object.entries(query.filter ?? {})) must.push(metadataCondition(field, condition));
    const result = await this.call('search', () =>
      this.client.query(query.collection, {
        query: Array.from(query.vector),
        filter: { must },
        limit: query.topK,
        with_payload: [KB_FIELD, DOCUMENT_FIELD],
      }),
    );
    return result.points.map((point) => ({
      id: String(point.id),
      kbId: String(point.payload?.[KB_FIELD]),
      documentId: String(point.payload?.[DOCUMENT_FIELD]),
      score: point.score,
    }));
  }

  async count(collection: string, filter?: { tenantId: string; kbId?: string }): Promise<number> {
    const must: Condition[] = [];
    if (filter) must.push(matchValue(TENANT_FIELD, filter.tenantId));
    if (filter?.kbId !== undefined) must.push(matchValue(KB_FIELD, filter.kbId));
    const result = await this.call('count', () =>
      this.client.count(collection, { exact: true, filter: must.length > 0 ? { must } : undefined }),
    );
    return result.count;
  }

  async listCollections(): Promise<VectorCollectionInfo[]> {
    const { collections } = await this.call('list collections', () => this.client.getCollections());
    const infos = await Promise.all(
      collections.map(async ({ name }) => {
        const info = await this.call('get collection', () => this.client.getCollection(name));
        return { name, dimension: vectorSize(info) ?? 0, points: info.points_count ?? 0 };
      }),
    );
    return infos.sort((a, b) => a.name.localeCompare(b.name));
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.client.versionInfo());
  }

  /** Nothing to release but the cache: the client keeps no connection that outlives a request's keep-alive. */
  async close(): Promise<void> {
    this.closed = true;
    this.dimensions.clear();
  }

  private async fetchDimension(collection: string): Promise<number | undefined> {
    const { exists } = await this.call('collection exists', () => this.client.collectionExists(collection));
    if (!exists) return undefined;
    const info = await this.call('get collection', () => this.client.getCollection(collection));
    return vectorSize(info);
  }

  private async createPayloadIndexes(collection: string): Promise<void> {
    const indexes: [string, Schemas['PayloadFieldSchema']][] = [
      [TENANT_FIELD, { type: 'keyword', is_tenant: true }],
      [KB_FIELD, 'keyword'],
      [DOCUMENT_FIELD, 'keyword'],
    ];
    for (const [field_name, field_schema] of indexes) {
      await this.call('create payload index', () => this.client.createPayloadIndex(collection, { wait: true, field_name, field_schema }));
    }
  }

  /** runs one Qdrant call, turning every failure into a DependencyError */
  private async call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    if (this.closed) throw new ServiceUnavailableError('the Qdrant vector store is closed');
    try {
      return await run();
    } catch (error) {
      throw toDependencyError(operation, error, this.timeoutMs);
    }
  }
}

function matchValue(key: string, value: MetadataScalar): Condition {
  return { key, match: { value } };
}

/** `metadata.<field>` equals a scalar, or is one of a list (Qdrant's `match.any` takes only strings or integers) */
function metadataCondition(field: string, condition: MetadataCondition): Condition {
  const key = `${METADATA_FIELD}.${payloadKey(field)}`;
  if (typeof condition !== 'object') return scalarCondition(key, condition);
  const values = condition.in;
  if (values.every((v) => typeof v === 'string')) return { key, match: { any: values } };
  if (values.every((v) => Number.isInteger(v))) return { key, match: { any: values as number[] } };
  return { should: values.map((value) => scalarCondition(key, value)) };
}

/**
 * A metadata field name as one key of a Qdrant payload path: plain names (letters, digits, `_`,
 * `-`) as they are, any other in double quotes, so `source.url` is that field and not `url`
 * inside `source`. Qdrant's quoted keys have no escapes: a name holding `"` or `\` cannot be
 * addressed, and is refused rather than matched against the wrong field.
 */
export function payloadKey(field: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(field)) return field;
  if (/["\\]/.test(field)) {
    throw new ValidationFailedError([
      {
        field: `filters.${field}`,
        message: 'a metadata field whose name holds " or \\ cannot be filtered on with the Qdrant vector store',
      },
    ]);
  }
  return `"${field}"`;
}

function scalarCondition(key: string, value: MetadataScalar): Condition {
  // Qdrant matches only strings, integers and booleans exactly; a fractional number is a closed range
  if (typeof value === 'number' && !Number.isInteger(value)) return { key, range: { gte: value, lte: value } };
  return { key, match: { value } };
}

function vectorSize(info: Schemas['CollectionInfo']): number | undefined {
  const vectors = info.config.params.vectors;
  return vectors && 'size' in vectors && typeof vectors.size === 'number' ? vectors.size : undefined;
}

function toDependencyError(operation: string, error: unknown, timeoutMs: number): DependencyError {
  if (error instanceof DependencyError) return error;
  const name = error instanceof Error ? error.name : '';
  if (name === 'QdrantClientTimeoutError' || name === 'AbortError' || name === 'TimeoutError') {
    return new DependencyError('qdrant', 'timeout', `${operation} timed out after ${timeoutMs} ms`);
  }
  const response = error as { status?: unknown; data?: { status?: { error?: string } } | string };
  if (typeof response?.status === 'number') {
    const detail = typeof response.data === 'object' ? (response.data?.status?.error ?? '') : String(response.data ?? '').slice(0, 200);
    const status = response.status;
    const failure = status === 429 || status >= 500 ? 'unavailable' : 'rejected';
    return new DependencyError('qdrant', failure, `${operation} failed with HTTP ${status}${detail ? `: ${detail}` : ''}`);
  }
  const message = error instanceof Error ? `${error.message}${causeOf(error)}` : String(error);
  if (name === 'QdrantClientResourceExhaustedError') return new DependencyError('qdrant', 'unavailable', `${operation}: ${message}`);
  if (error instanceof TypeError || /ECONNREFUSED|ECONNRESET|ENOTFOUND|fetch failed|socket/i.test(message)) {
    return new DependencyError('qdrant', 'unavailable', `${operation}: ${message}`);
  }
  return new DependencyError('qdrant', 'bad_response', `${operation}: ${message}`);
}

function causeOf(error: Error): string {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? ` (${cause.message})` : '';
}
