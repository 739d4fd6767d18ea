import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BadRequestError, ConflictError, NotFoundError, ServiceUnavailableError } from '../../common/errors';
import { VectorStore, type VectorCollectionInfo, type VectorHit, type VectorRecord, type VectorSearchQuery } from '../vector-store.port';
import { GRAPH_FILE_PREFIX, VectorPartition } from './vector-partition';

export interface EmbeddedVectorStoreOptions {
  /** directory for `vectors.sqlite` (created when missing) */
  dataDir: string;
  /** partitions with at least this many vectors get an HNSW graph (default 20,000) */
  hnswThreshold?: number;
}

export interface PartitionStats {
  tenantId: string;
  kbId: string;
  points: number;
  search: 'exact' | 'hnsw';
  /** how the current graph was built, when there is one */
  graphBuild?: 'worker' | 'event-loop';
}

/** rows written per transaction and loaded per page, so no single turn of the event loop runs long */
const SLICE = 512;

interface LoadedCollection {
  dimension: number;
  partitions: Map<string, VectorPartition>;
  /** partition key of each point id */
  partitionOfId: Map<string, string>;
}

interface PointRow {
  rowid: number;
  id: string;
  tenant_id: string;
  kb_id: string;
  document_id: string;
  metadata: string | null;
  vector: Buffer;
}

/**
 * Embedded, persistent vector store. SQLite (WAL) is the durable copy: every write commits there
 * first, then applies to the in-memory partitions searched by `VectorPartition`. A collection's
 * vectors are loaded on its first use (paged, yielding between pages); HNSW graphs of large
 * partitions are rebuilt in the background after a restart, with exact search until they catch up.
 */
export class EmbeddedVectorStore extends VectorStore {
  readonly kind = 'embedded';
  private readonly db: Database.Database;
  private readonly loaded = new Map<string, Promise<LoadedCollection>>();
  /** the tail of each collection's write queue */
  private readonly writes = new Map<string, Promise<void>>();
  private readonly hnswThreshold?: number;
  private readonly dataDir: string;
  private labelCounter = 0;
  private closed = false;
  /** looked up before every search: prepared once */
  private dimensionStatement: Database.Statement<[string], { dimension: number }> | undefined;

  constructor(options: EmbeddedVectorStoreOptions) {
    super();
    mkdirSync(options.dataDir, { recursive: true });
    this.dataDir = options.dataDir;
    // graph files a worker thread handed over when the process died before loading them
    for (const name of readdirSync(options.dataDir))
      if (name.startsWith(GRAPH_FILE_PREFIX)) rmSync(join(options.dataDir, name), { force: true });
    this.hnswThreshold = options.hnswThreshold;
    this.db = new Database(join(options.dataDir, 'vectors.sqlite'));
    this.db.pragma('journal_mode = WAL');
    // with WAL, NORMAL never corrupts the database; a crash loses at most the last commits, which
    // ingestion replays (writes are idempotent by id)
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS vector_collections (
        name TEXT PRIMARY KEY,
        dimension INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS vector_points (
        collection TEXT NOT NULL,
        id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        kb_id TEXT NOT NULL,
        document_id TEXT NOT NULL,
        metadata TEXT,
        vector BLOB NOT NULL,
        PRIMARY KEY (collection, id)
      );
      CREATE INDEX IF NOT EXISTS vector_points_kb ON vector_points (collection, tenant_id, kb_id);
      CREATE INDEX IF NOT EXISTS vector_points_document ON vector_points (collection, tenant_id, document_id);
    `);
  }

  async ensureCollection(collection: string, dimension: number): Promise<void> {
    this.assertOpen();
    if (!Number.isInteger(dimension) || dimension <= 0) {
      throw new BadRequestError(`vector dimension must be a positive integer, got ${dimension}`);
    }
    const existing = this.dimensionOf(collection);
    if (existing === undefined) {
      this.db.prepare('INSERT INTO vector_collections (name, dimension) VALUES (?, ?)').run(collection, dimension);
    } else if (existing !== dimension) {
      throw new ConflictError(`vector collection '${collection}' has dimension ${existing}, not ${dimension}`);
    }
  }

  async upsert(collection: string, records: VectorRecord[]): Promise<void> {
    return this.serialized(collection, () => this.write(collection, records));
  }

  private async write(collection: string, records: VectorRecord[]): Promise<void> {
    const loaded = await this.load(collection);
    for (const record of records) checkDimension(collection, loaded.dimension, record.vector, `record ${record.id}`);
    const write = this.db.prepare(
      `INSERT INTO vector_points (collection, id, tenant_id, kb_id, document_id, metadata, vector)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (collection, id) DO UPDATE SET tenant_id = excluded.tenant_id, kb_id = excluded.kb_id,
         document_id = excluded.document_id, metadata = excluded.metadata, vector = excluded.vector`,
    );
    for (let start = 0; start < records.length; start += SLICE) {
      if (start > 0) await yieldToEventLoop();
      this.assertOpen();
      const slice = records.slice(start, start + SLICE).map((record) => ({ record, unit: normalized(record.vector) }));
      this.db.transaction(() => {
        for (const { record, unit } of slice) {
          const metadata = record.metadata === undefined ? null : JSON.stringify(record.metadata);
          write.run(collection, record.id, record.tenantId, record.kbId, record.documentId, metadata, toBlob(unit));
        }
      })();
      for (const { record, unit } of slice) {
        this.place(loaded, record.tenantId, record.kbId, {
          id: record.id,
          documentId: record.documentId,
          vector: unit,
          metadata: record.metadata,
        });
      }
    }
  }

  async deleteByDocument(collection: string, tenantId: string, documentId: string): Promise<void> {
    return this.serialized(collection, async () => {
      const loaded = await this.load(collection);
      const removed = this.db
        .prepare('DELETE FROM vector_points WHERE collection = ? AND tenant_id = ? AND document_id = ? RETURNING id')
        .all(collection, tenantId, documentId) as { id: string }[];
      for (const { id } of removed) this.removeFromMemory(loaded, id);
    });
  }

  async deleteByKnowledgeBase(collection: string, tenantId: string, kbId: string): Promise<void> {
    return this.serialized(collection, () => this.deleteKnowledgeBase(collection, tenantId, kbId));
  }

  private async deleteKnowledgeBase(collection: string, tenantId: string, kbId: string): Promise<void> {
    const loaded = await this.load(collection);
    // searches stop seeing the KB at once; its rows leave SQLite a slice per event-loop turn (a KB
    // may hold 100k rows); an interrupted delete is finished by calling it again
    const key = partitionKey(tenantId, kbId);
    const partition = loaded.partitions.get(key);
    if (partition) {
      partition.dispose();
      loaded.partitions.delete(key);
      for (const [id, owner] of loaded.partitionOfId) if (owner === key) loaded.partitionOfId.delete(id);
    }
    const deleteSlice = this.db.prepare(
      `DELETE FROM vector_points WHERE rowid IN
         (SELECT rowid FROM vector_points WHERE collection = ? AND tenant_id = ? AND kb_id = ? LIMIT ${SLICE * 4})`,
    );
    while (deleteSlice.run(collection, tenantId, kbId).changes > 0) {
      await yieldToEventLoop();
      this.assertOpen();
    }
  }

  async search(query: VectorSearchQuery): Promise<VectorHit[]> {
    const loaded = await this.load(query.collection);
    checkDimension(query.collection, loaded.dimension, query.vector, 'query vector');
    const unit = normalized(query.vector);
    const hits: VectorHit[] = [];
    for (const kbId of new Set(query.kbIds)) {
      const partition = loaded.partitions.get(partitionKey(query.tenantId, kbId));
      for (const hit of partition?.search(unit, query.topK, query.filter) ?? []) hits.push({ ...hit, kbId });
    }
    return hits.sort((a, b) => b.score - a.score).slice(0, Math.max(0, query.topK));
  }

  async count(collection: string, filter?: { tenantId: string; kbId?: string }): Promise<number> {
    this.assertOpen();
    this.requireDimension(collection);
    let sql = 'SELECT count(*) AS n FROM vector_points WHERE collection = ?';
    const params: string[] = [collection];
    if (filter) {
      sql += ' AND tenant_id = ?';
      params.push(filter.tenantId);
      if (filter.kbId !== undefined) {
        sql += ' AND kb_id = ?';
        params.push(filter.kbId);
      }
    }
    return (this.db.prepare(sql).get(...params) as { n: number }).n;
  }

  async listCollections(): Promise<VectorCollectionInfo[]> {
    this.assertOpen();
    const rows = this.db
      .prepare(
        `SELECT c.name, c.dimension, (SELECT count(*) FROM vector_points p WHERE p.collection = c.name) AS points
         FROM vector_collections c ORDER BY c.name`,
      )
      .all() as VectorCollectionInfo[];
    return rows;
  }

  /** how each (tenant, KB) partition of a collection is searched right now: for deep health checks and tests */
  async partitionStats(collection: string): Promise<PartitionStats[]> {
    const loaded = await this.load(collection);
    return [...loaded.partitions].map(([key, partition]) => {
      const [tenantId, kbId] = JSON.parse(key) as [string, string];
      return {
        tenantId,
        kbId,
        points: partition.count,
        search: partition.usesGraph ? 'hnsw' : 'exact',
        ...(partition.graphBuild && { graphBuild: partition.graphBuild }),
      };
    });
  }

  async ping(): Promise<void> {
    this.assertOpen();
    this.db.prepare('SELECT 1').get();
  }

  /** Closes the database file; pending background graph work stops. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const collections = await Promise.allSettled(this.loaded.values());
    for (const result of collections) {
      if (result.status === 'fulfilled') for (const partition of result.value.partitions.values()) partition.dispose();
    }
    this.db.close();
  }

  /**
   * Runs writes to one collection one after another: upserts and KB deletes span several
   * event-loop turns, and an upsert interleaved with a KB delete could lose its rows.
   */
  private serialized(collection: string, write: () => Promise<void>): Promise<void> {
    const previous = this.writes.get(collection) ?? Promise.resolve();
    const next = previous.then(write, write);
    const settled = next.catch(() => undefined);
    this.writes.set(collection, settled);
    void settled.then(() => {
      if (this.writes.get(collection) === settled) this.writes.delete(collection);
    });
    return next;
  }

  private assertOpen(): void {
    if (this.closed) throw new ServiceUnavailableError('the embedded vector store is closed');
  }

  private dimensionOf(collection: string): number | undefined {
    this.dimensionStatement ??= this.db.prepare<[string], { dimension: number }>('SELECT dimension FROM vector_collections WHERE name = ?');
    return this.dimensionStatement.get(collection)?.dimension;
  }

  private requireDimension(collection: string): number {
    const dimension = this.dimensionOf(collection);
    if (dimension === undefined) throw new NotFoundError('vector collection', collection);
    return dimension;
  }

  /** the collection's vectors in memory, loaded from SQLite once, a page per event-loop turn */
  private load(collection: string): Promise<LoadedCollection> {
    this.assertOpen();
    // collections are never dropped and this process is the store's only writer: once loaded, the
    // memory answers (no SQLite read per search)
    let loading = this.loaded.get(collection);
    if (!loading) {
      loading = this.readCollection(collection, this.requireDimension(collection));
      this.loaded.set(collection, loading);
      loading.catch(() => this.loaded.delete(collection));
    }
    return loading;
  }

  private async readCollection(collection: string, dimension: number): Promise<LoadedCollection> {
    const loaded: LoadedCollection = { dimension, partitions: new Map(), partitionOfId: new Map() };
    const sizes = this.db
      .prepare('SELECT tenant_id, kb_id, count(*) AS n FROM vector_points WHERE collection = ? GROUP BY tenant_id, kb_id')
      .all(collection) as { tenant_id: string; kb_id: string; n: number }[];
    for (const { tenant_id, kb_id, n } of sizes) this.partition(loaded, partitionKey(tenant_id, kb_id)).reserve(n);
    const page = this.db.prepare(
      `SELECT rowid, id, tenant_id, kb_id, document_id, metadata, vector FROM vector_points
       WHERE collection = ? AND rowid > ? ORDER BY rowid LIMIT ${SLICE}`,
    );
    for (let after = 0; ;) {
      this.assertOpen();
      const rows = page.all(collection, after) as PointRow[];
      for (const row of rows) {
        this.place(loaded, row.tenant_id, row.kb_id, {
          id: row.id,
          documentId: row.document_id,
          vector: fromBlob(row.vector, dimension),
          metadata: row.metadata === null ? undefined : (JSON.parse(row.metadata) as Record<string, unknown>),
        });
      }
      if (rows.length < SLICE) return loaded;
      after = rows[rows.length - 1].rowid;
      await yieldToEventLoop();
    }
  }

  private place(loaded: LoadedCollection, tenantId: string, kbId: string, row: Parameters<VectorPartition['upsert']>[0]): void {
    const key = partitionKey(tenantId, kbId);
    const previous = loaded.partitionOfId.get(row.id);
    if (previous !== undefined && previous !== key) loaded.partitions.get(previous)?.remove(row.id);
    this.partition(loaded, key).upsert(row);
    loaded.partitionOfId.set(row.id, key);
  }

  private partition(loaded: LoadedCollection, key: string): VectorPartition {
    let partition = loaded.partitions.get(key);
    if (!partition) {
      partition = new VectorPartition(loaded.dimension, () => ++this.labelCounter, this.hnswThreshold, this.dataDir);
      loaded.partitions.set(key, partition);
    }
    return partition;
  }

  private removeFromMemory(loaded: LoadedCollection, id: string): void {
    const key = loaded.partitionOfId.get(id);
    if (key === undefined) return;
    loaded.partitions.get(key)?.remove(id);
    loaded.partitionOfId.delete(id);
  }
}

function partitionKey(tenantId: string, kbId: string): string {
  return JSON.stringify([tenantId, kbId]);
}

function checkDimension(collection: string, dimension: number, vector: Float32Array, what: string): void {
  if (vector.length !== dimension) {
    throw new BadRequestError(`${what} has dimension ${vector.length}; collection '${collection}' has dimension ${dimension}`);
  }
}

/** a fresh unit-length copy (usearch ignores a typed array's byteOffset, so never pass a subarray) */
function normalized(vector: Float32Array): Float32Array {
  const out = Float32Array.from(vector);
  let norm = 0;
  for (const v of out) norm += v * v;
  if (!Number.isFinite(norm)) throw new BadRequestError('vector contains a non-finite value');
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i] /= norm;
  return out;
}

function toBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

function fromBlob(blob: Buffer, dimension: number): Float32Array {
  const vector = new Float32Array(dimension);
  new Uint8Array(vector.buffer).set(blob.subarray(0, dimension * 4));
  return vector;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
