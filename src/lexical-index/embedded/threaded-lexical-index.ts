import { extname, join } from 'node:path';
import { threadProxy, type ThreadControl } from '../../common/port-thread';
import type { LexicalIndex } from '../lexical-index.port';
import type { EmbeddedLexicalIndex, EmbeddedLexicalIndexOptions } from './embedded-lexical-index';

export type ThreadedLexicalIndex = LexicalIndex & ThreadControl;

/**
 * The embedded BM25 index on its own worker thread (`PortThread`): same file, same behaviour, but
 * query analysis and scoring no longer hold the event loop that serves HTTP.
 */
export function threadedLexicalIndex(options: EmbeddedLexicalIndexOptions): ThreadedLexicalIndex {
  const proxy = threadProxy<EmbeddedLexicalIndex, 'upsert' | 'deleteByDocument' | 'deleteByKnowledgeBase' | 'search' | 'count'>(
    {
      modulePath: join(__dirname, `embedded-lexical-index${extname(__filename)}`),
      exportName: 'EmbeddedLexicalIndex',
      argument: options,
      name: 'embedded lexical index',
    },
    {
      methods: ['upsert', 'deleteByDocument', 'deleteByKnowledgeBase', 'search', 'count'],
      prepare: {
        // only the record's own fields cross (a caller may hand richer objects)
        upsert: (records) => [
          records.map(({ id, tenantId, kbId, documentId, text, metadata }) => ({ id, tenantId, kbId, documentId, text, metadata })),
        ],
        // the query's abort signal stays here (it cannot be cloned)
        search: ({ tenantId, kbIds, query, topK, filter }) => [{ tenantId, kbIds, query, topK, filter }],
      },
    },
  );
  // the thread runs the index's own init() when it starts
  return Object.assign(proxy, { kind: 'embedded', init: () => proxy.start() });
}
