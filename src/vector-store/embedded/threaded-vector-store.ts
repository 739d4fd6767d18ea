import { extname, join } from 'node:path';
import { threadProxy, type ThreadControl } from '../../common/port-thread';
import type { VectorStore } from '../vector-store.port';
import type { EmbeddedVectorStore, EmbeddedVectorStoreOptions } from './embedded-vector-store';

export type ThreadedVectorStore = VectorStore & Pick<EmbeddedVectorStore, 'partitionStats'> & ThreadControl;

/**
 * The embedded vector store on its own worker thread (`PortThread`): same files, same behaviour,
 * but its scans and graph searches no longer hold the event loop that serves HTTP.
 */
export function threadedVectorStore(options: EmbeddedVectorStoreOptions): ThreadedVectorStore {
  const proxy = threadProxy<EmbeddedVectorStore, Exclude<keyof VectorStore, 'kind' | 'close'> | 'partitionStats'>(
    {
      modulePath: join(__dirname, `embedded-vector-store${extname(__filename)}`),
      exportName: 'EmbeddedVectorStore',
      argument: options,
      name: 'embedded vector store',
    },
    {
      methods: [
        'ensureCollection',
        'upsert',
        'deleteByDocument',
        'deleteByKnowledgeBase',
        'search',
        'count',
        'listCollections',
        'partitionStats',
        'ping',
      ],
      // the query's abort signal stays here (it cannot be cloned)
      prepare: {
        search: ({ collection, tenantId, kbIds, vector, topK, filter }) => [{ collection, tenantId, kbIds, vector, topK, filter }],
      },
    },
  );
  return Object.assign(proxy, { kind: 'embedded' });
}
