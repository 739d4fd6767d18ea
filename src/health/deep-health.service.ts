import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { LlmService } from '../llm/llm.service';
import { VectorStoreHealthIndicator } from './indicators';
import { CHECK_TIMEOUT_MS } from './timed-check';

type Check = { status: 'ok'; data?: unknown; message?: string } | { status: 'error'; message: string };

/** The guide's deep check: real queries against every store and, when configured, one LLM call. */
@Injectable()
export class DeepHealthService {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    private readonly vectorStore: VectorStoreHealthIndicator,
    private readonly llm: LlmService,
  ) {}

  async check(): Promise<{ checks: Record<string, Check>; timestamp: number }> {
    const checks: Record<string, Check> = {};
    checks.database_query = await settle(async () => {
      const [row] = (await this.dataSource.query(
        `SELECT (SELECT COUNT(*) FROM tenants) AS total_tenants,
                (SELECT COUNT(*) FROM knowledge_bases) AS total_kbs,
                (SELECT COUNT(*) FROM documents) AS total_docs,
                (SELECT COUNT(*) FROM chunks WHERE status = 'indexed') AS indexed_chunks`,
      )) as Array<Record<string, string | number>>;
      return {
        data: {
          total_tenants: Number(row?.total_tenants ?? 0),
          total_kbs: Number(row?.total_kbs ?? 0),
          total_docs: Number(row?.total_docs ?? 0),
          indexed_chunks: Number(row?.indexed_chunks ?? 0),
        },
      };
    });
    checks.vector_store_query = await settle(async () => {
      const store = this.vectorStore.store();
      if (!store) throw new Error('vector store not configured');
      return { data: { kind: store.kind, collections: await store.listCollections() } };
    });
    if (this.llm.configured) {
      checks.llm_service = await settle(async () => {
        // through LlmService, so the ping is a `chat` span and an llm_calls_total like any call
        const answer = await this.llm.complete({
          purpose: 'health_check',
          messages: [{ role: 'user', content: 'Reply with the single word OK.' }],
          maxTokens: 5,
          signal: AbortSignal.timeout(Math.max(CHECK_TIMEOUT_MS, 10_000)),
        });
        return { message: `LLM responded: ${answer.text.slice(0, 50)}` };
      });
    }
    return { checks, timestamp: Date.now() / 1000 };
  }
}

async function settle(work: () => Promise<{ data?: unknown; message?: string }>): Promise<Check> {
  try {
    return { status: 'ok', ...(await work()) };
  } catch (error) {
    return { status: 'error', message: (error as Error).message.slice(0, 300) };
  }
}
