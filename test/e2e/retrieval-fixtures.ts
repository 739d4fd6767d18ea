import { api } from '../support/test-app';
import { waitFor } from '../support/ports';

export interface DocumentInput {
  title: string;
  content: string;
  metadata?: Record<string, unknown>;
}

/** Creates a KB and uploads the documents through the documents API; resolves once all are indexed. */
export async function createIndexedKnowledgeBase(
  baseUrl: string,
  keys: { admin: string; write: string },
  name: string,
  documents: DocumentInput[],
  options: { embeddingModel?: string; chunker?: { type: string; chunk_size: number; chunk_overlap: number }; timeoutMs?: number } = {},
): Promise<{ kbId: string; documentIds: string[] }> {
  const kb = await api(baseUrl, keys.admin).post('/v1/knowledge-bases', {
    name,
    ...(options.embeddingModel ? { embedding_model: options.embeddingModel } : {}),
    ...(options.chunker ? { chunker: options.chunker } : {}),
  });
  if (kb.status !== 201) throw new Error(`KB creation failed: ${kb.status} ${kb.text}`);
  const kbId = kb.body.id as string;
  const writer = api(baseUrl, keys.write);
  const documentIds: string[] = [];
  for (const document of documents) {
    const created = await writer.post(`/v1/knowledge-bases/${kbId}/documents`, document);
    if (created.status !== 202 && created.status !== 200) throw new Error(`upload failed: ${created.status} ${created.text}`);
    documentIds.push(created.body.id);
  }
  const pending = async (status: string) =>
    (await writer.get(`/v1/knowledge-bases/${kbId}/documents?status=${status}&limit=1`)).body.items.length > 0;
  await waitFor(
    async () => {
      if (await pending('failed')) throw new Error(`a document of ${name} failed to index`);
      return !(await pending('queued')) && !(await pending('processing'));
    },
    options.timeoutMs ?? 30_000,
    `documents of ${name} to be indexed`,
  );
  return { kbId, documentIds };
}

/** A small handbook in English and Chinese; each document answers questions the tests ask. */
export const HANDBOOK: DocumentInput[] = [
  {
    title: 'API keys',
    content:
      'API keys are stored hashed with SHA-256 and shown only once, when they are created. A revoked key is refused with status 401 from then on. Keys can carry an expiry date.',
    metadata: { topic: 'security', year: 2024, lang: 'en' },
  },
  {
    title: 'Backups',
    content:
      'The database is backed up every night at 02:00 UTC. Backups are kept for thirty days and restored with the restore script. A restore takes about ten minutes for a small database.',
    metadata: { topic: 'operations', year: 2023, lang: 'en' },
  },
  {
    title: 'Rate limits',
    content:
      'Each API key may send fifty requests per second to the retrieval routes. Clients over the limit get status 429 with a Retry-After header telling them when to try again.',
    metadata: { topic: 'operations', year: 2024, lang: 'en' },
  },
  {
    title: 'Photosynthesis',
    content:
      'Photosynthesis converts light energy into chemical energy. Plants absorb carbon dioxide and release oxygen; chlorophyll in the chloroplasts captures the light.',
    metadata: { topic: 'biology', year: 2020, lang: 'en' },
  },
  {
    title: '监控告警',
    content:
      '系统使用Prometheus采集指标，告警规则由Alertmanager发送到运维团队。当错误率超过百分之五时，会触发严重告警。告警通知通过邮件和Slack发送。',
    metadata: { topic: 'operations', year: 2024, lang: 'zh' },
  },
  {
    title: '日志收集',
    content: '应用日志以JSON格式输出到标准输出，由Loki统一收集。每条日志包含请求编号和租户编号，便于排查问题。日志保留十四天。',
    metadata: { topic: 'operations', year: 2023, lang: 'zh' },
  },
];
