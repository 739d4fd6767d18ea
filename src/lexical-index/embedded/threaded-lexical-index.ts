import { extname, join } from 'node:path';
import { PortThread } from '../../common/port-thread';
import { LexicalIndex, type LexicalHit, type LexicalRecord, type LexicalSearchQuery } from '../lexical-index.port';
import type { EmbeddedLexicalIndexOptions } from './embedded-lexical-index';

/**
 * The embedded BM25 index on its own worker thread (`PortThread`): same file, same behaviour, but
 * query analysis and scoring no longer hold the event loop that serves HTTP.
 */
export class ThreadedLexicalIndex extends LexicalIndex {
  readonly kind = 'embedded';
  private readonly thread: PortThread;

  constructor(options: EmbeddedLexicalIndexOptions) {
    super();
    this.thread = new PortThread({
      modulePath: join(__dirname, `embedded-lexical-index${extname(__filename)}`),
      exportName: 'EmbeddedLexicalIndex',
      argument: options,
      name: 'embedded lexical index',
    });
  }

  /** the thread runs the index's own init() when it starts */
  init(): Promise<void> {
    return this.thread.start();
  }

  upsert(records: LexicalRecord[]): Promise<void> {
    return this.thread.call('upsert', records.map(({ id, tenantId, kbId, documentId, text, metadata }) => ({ id, tenantId, kbId, documentId, text, metadata })));
  }

  deleteByDocument(tenantId: string, documentId: string): Promise<void> {
    return this.thread.call('deleteByDocument', tenantId, documentId);
  }

  deleteByKnowledgeBase(tenantId: string, kbId: string): Promise<void> {
    return this.thread.call('deleteByKnowledgeBase', tenantId, kbId);
  }

  search(query: LexicalSearchQuery): Promise<LexicalHit[]> {
    const { tenantId, kbIds, query: text, topK, filter } = query;
    return this.thread.call('search', { tenantId, kbIds, query: text, topK, filter });
  }

  count(filter?: { tenantId: string; kbId?: string }): Promise<number> {
    return this.thread.call('count', filter);
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
