import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { matchesMetadataFilter } from '../../common/metadata-filter';
import { analyze, termFrequencies } from '../../text/analyzer';
import { LexicalHit, LexicalIndex, LexicalRecord, LexicalSearchQuery } from '../lexical-index.port';
import { Bm25Partition, PartitionEntry, searchBm25 } from './bm25-partition';
import { Bm25Parameters, DEFAULT_BM25_PARAMETERS } from '../bm25';

export interface EmbeddedLexicalIndexOptions {
  /** directory of the SQLite file that persists the index (created when missing) */
  dataDir: string;
  /** default `lexical-index.sqlite` */
  fileName?: string;
  /** default k1 1.2, b 0.75 (see DEFAULT_BM25_PARAMETERS) */
  bm25?: Partial<Bm25Parameters>;
}

/** records analyzed and written per transaction, between which other requests get the event loop */
const UPSERT_SLICE = 128;
/** a longer query is cut to its first distinct terms, so a huge query costs bounded time */
const MAX_QUERY_TERMS = 256;

interface StoredChunk {
  id: string;
  kb_id: string;
  document_id: string;
  metadata: string | null;
  terms: string;
}

/**
 * The embedded default's BM25 index: SQLite holds every chunk's analyzed terms (the truth,
 * durable and shared by restarts); searches run on an in-memory inverted index per
 * (tenant, knowledge base), built from SQLite on first use and kept current by every write.
 * When another connection changes the file (`PRAGMA data_version`), the memory is rebuilt.
 *
 * Chosen over SQLite FTS5 by measurement (bench/quality/README.md): FTS5 fixes k1/b and its
 * per-tenant filtering happens after matching, so at 100k chunks a query costs several times
 * more than this index's.
 */
export class EmbeddedLexicalIndex extends LexicalIndex {
  readonly kind = 'embedded';
  private readonly parameters: Bm25Parameters;
  private readonly path: string;
  private db: Database.Database | undefined;
  private statements: ReturnType<EmbeddedLexicalIndex['prepare']> | undefined;
  private readonly partitions = new Map<string, Bm25Partition>();
  private dataVersion = 0;

  constructor(private readonly options: EmbeddedLexicalIndexOptions) {
    super();
    this.parameters = { ...DEFAULT_BM25_PARAMETERS, ...options.bm25 };
    this.path = join(options.dataDir, options.fileName ?? 'lexical-index.sqlite');
  }

  async init(): Promise<void> {
    if (this.db) return;
    mkdirSync(this.options.dataDir, { recursive: true });
    const db = new Database(this.path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.exec(`
      CREATE TABLE IF NOT EXISTS lexical_chunks (
        tenant_id   TEXT NOT NULL,
        id          TEXT NOT NULL,
        kb_id       TEXT NOT NULL,
        document_id TEXT NOT NULL,
        metadata    TEXT,
        terms       TEXT NOT NULL,
        PRIMARY KEY (tenant_id, id)
      );
      CREATE INDEX IF NOT EXISTS lexical_chunks_kb ON lexical_chunks (tenant_id, kb_id);
      CREATE INDEX IF NOT EXISTS lexical_chunks_document ON lexical_chunks (tenant_id, document_id);
    `);
    this.db = db;
    this.statements = this.prepare(db);
    this.dataVersion = this.readDataVersion();
  }

  private prepare(db: Database.Database) {
    return {
      // read before every search: prepared once, not per call as db.pragma() would
      dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
      existing: db.prepare<[string, string], { kb_id: string; terms: string }>(
        'SELECT kb_id, terms FROM lexical_chunks WHERE tenant_id = ? AND id = ?',
      ),
      write: db.prepare(
        `INSERT INTO lexical_chunks (tenant_id, id, kb_id, document_id, metadata, terms)
         VALUES (@tenantId, @id, @kbId, @documentId, @metadata, @terms)
         ON CONFLICT (tenant_id, id) DO UPDATE SET kb_id = excluded.kb_id,
           document_id = excluded.document_id, metadata = excluded.metadata, terms = excluded.terms`,
      ),
      ofDocument: db.prepare<[string, string], { id: string; kb_id: string; terms: string }>(
        'SELECT id, kb_id, terms FROM lexical_chunks WHERE tenant_id = ? AND document_id = ?',
      ),
      deleteDocument: db.prepare('DELETE FROM lexical_chunks WHERE tenant_id = ? AND document_id = ?'),
      deleteKnowledgeBase: db.prepare('DELETE FROM lexical_chunks WHERE tenant_id = ? AND kb_id = ?'),
      ofKnowledgeBase: db.prepare<[string, string], StoredChunk>(
        'SELECT id, kb_id, document_id, metadata, terms FROM lexical_chunks WHERE tenant_id = ? AND kb_id = ?',
      ),
      countAll: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM lexical_chunks'),
      countTenant: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM lexical_chunks WHERE tenant_id = ?'),
      countKnowledgeBase: db.prepare<[string, string], { n: number }>(
        'SELECT count(*) AS n FROM lexical_chunks WHERE tenant_id = ? AND kb_id = ?',
      ),
    };
  }

  async upsert(records: LexicalRecord[]): Promise<void> {
    for (let start = 0; start < records.length; start += UPSERT_SLICE) {
      if (start > 0) await yieldToEventLoop();
      this.upsertSlice(records.slice(start, start + UPSERT_SLICE));
    }
  }

  private upsertSlice(records: LexicalRecord[]): void {
    const { db, statements } = this.open();
    this.syncWithOtherConnections();
    const analyzed = records.map((record) => ({ record, frequencies: termFrequencies(analyze(record.text)) }));
    const replaced: ({ kbId: string; terms: string } | undefined)[] = [];
    db.transaction(() => {
      for (const { record, frequencies } of analyzed) {
        const previous = statements.existing.get(record.tenantId, record.id);
        replaced.push(previous && { kbId: previous.kb_id, terms: previous.terms });
        statements.write.run({
          tenantId: record.tenantId,
          id: record.id,
          kbId: record.kbId,
          documentId: record.documentId,
          metadata: record.metadata === undefined ? null : JSON.stringify(record.metadata),
          terms: encodeTerms(frequencies),
        });
      }
    })();
    analyzed.forEach(({ record, frequencies }, index) => {
      const previous = replaced[index];
      if (previous) {
        const terms = decodeTerms(previous.terms).keys();
        this.partitions.get(partitionKey(record.tenantId, previous.kbId))?.remove(record.id, terms);
      }
      this.partitions.get(partitionKey(record.tenantId, record.kbId))?.put(toEntry(record), frequencies);
    });
  }

  async deleteByDocument(tenantId: string, documentId: string): Promise<void> {
    const { db, statements } = this.open();
    this.syncWithOtherConnections();
    const removed = db.transaction(() => {
      const rows = statements.ofDocument.all(tenantId, documentId);
      statements.deleteDocument.run(tenantId, documentId);
      return rows;
    })();
    for (const row of removed) {
      this.partitions.get(partitionKey(tenantId, row.kb_id))?.remove(row.id, decodeTerms(row.terms).keys());
    }
  }

  async deleteByKnowledgeBase(tenantId: string, kbId: string): Promise<void> {
    const { statements } = this.open();
    this.syncWithOtherConnections();
    statements.deleteKnowledgeBase.run(tenantId, kbId);
    this.partitions.delete(partitionKey(tenantId, kbId));
  }

  async search(query: LexicalSearchQuery): Promise<LexicalHit[]> {
    this.open();
    this.syncWithOtherConnections();
    const topK = Math.floor(query.topK);
    if (!(topK > 0) || query.kbIds.length === 0) return [];
    const terms = [...new Set(analyze(query.query))].slice(0, MAX_QUERY_TERMS);
    if (terms.length === 0) return [];
    const partitions = [...new Set(query.kbIds)].map((kbId) => this.partition(query.tenantId, kbId));
    const filter = query.filter;
    const accept =
      filter && Object.keys(filter).length > 0 ? (entry: PartitionEntry) => matchesMetadataFilter(entry.metadata, filter) : undefined;
    return searchBm25(partitions, terms, this.parameters, topK, accept).map(({ item, score }) => ({
      id: item.id,
      kbId: item.kbId,
      documentId: item.documentId,
      score,
    }));
  }

  async count(filter?: { tenantId: string; kbId?: string }): Promise<number> {
    const { statements } = this.open();
    if (!filter) return statements.countAll.get()!.n;
    if (filter.kbId === undefined) return statements.countTenant.get(filter.tenantId)!.n;
    return statements.countKnowledgeBase.get(filter.tenantId, filter.kbId)!.n;
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
    this.statements = undefined;
    this.partitions.clear();
  }

  private open() {
    if (!this.db || !this.statements) throw new Error('EmbeddedLexicalIndex used before init() or after close()');
    return { db: this.db, statements: this.statements };
  }

  /** the in-memory index of one knowledge base, loaded from SQLite on first use */
  private partition(tenantId: string, kbId: string): Bm25Partition {
    const key = partitionKey(tenantId, kbId);
    let partition = this.partitions.get(key);
    if (!partition) {
      partition = new Bm25Partition();
      for (const row of this.open().statements.ofKnowledgeBase.iterate(tenantId, kbId)) {
        partition.put(
          {
            id: row.id,
            kbId: row.kb_id,
            documentId: row.document_id,
            metadata: row.metadata === null ? undefined : (JSON.parse(row.metadata) as Record<string, unknown>),
          },
          decodeTerms(row.terms),
        );
      }
      this.partitions.set(key, partition);
    }
    return partition;
  }

  /** another process or connection wrote to the file: what is in memory may be stale */
  private syncWithOtherConnections(): void {
    const version = this.readDataVersion();
    if (version !== this.dataVersion) {
      this.dataVersion = version;
      this.partitions.clear();
    }
  }

  private readDataVersion(): number {
    return this.open().statements.dataVersion.get()!;
  }
}

function partitionKey(tenantId: string, kbId: string): string {
  return JSON.stringify([tenantId, kbId]);
}

function toEntry(record: LexicalRecord): PartitionEntry {
  return { id: record.id, kbId: record.kbId, documentId: record.documentId, metadata: record.metadata };
}

/** terms never contain spaces (they are runs of letters, marks and digits): `term tf term tf …` */
function encodeTerms(frequencies: ReadonlyMap<string, number>): string {
  const parts: string[] = [];
  for (const [term, tf] of frequencies) parts.push(term, String(tf));
  return parts.join(' ');
}

function decodeTerms(encoded: string): Map<string, number> {
  const frequencies = new Map<string, number>();
  if (encoded === '') return frequencies;
  const parts = encoded.split(' ');
  for (let i = 0; i + 1 < parts.length; i += 2) frequencies.set(parts[i], Number(parts[i + 1]));
  return frequencies;
}
