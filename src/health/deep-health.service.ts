import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { HotReads } from '../database';
import { LlmService } from '../llm';
import { VectorStoreHealthIndicator } from './indicators';
import { withTimeout } from './timed-check';

type Check = { status: 'ok'; data?: unknown; message?: string } | { status: 'error'; message: string };

const COUNTS_SQL = `SELECT (SELECT COUNT(*) FROM tenants) AS total_tenants,
       (SELECT COUNT(*) FROM knowledge_bases) AS total_kbs,
       (SELECT COUNT(*) FROM documents) AS total_docs,
       (SELECT COUNT(*) FROM chunks WHERE status = 'indexed') AS indexed_chunks`;

/**
 * The guide's deep check: real queries against every store and, when configured, one LLM call.
 * The checks run side by side, each bounded by HEALTH_DEEP_TIMEOUT_MS: a locked table or a hung
 * store reports `error` for its own check instead of holding the probe.
 */
@Injectable()
export class DeepHealthService {
  private readonly timeoutMs: number;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    private readonly vectorStore: VectorStoreHealthIndicator,
    private readonly llm: LlmService,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly hotReads: HotReads,
  ) {
    this.timeoutMs = config.healthDeepTimeoutMs;
  }

  async check(): Promise<{ checks: Record<string, Check>; timestamp: number }> {
    const [databaseQuery, vectorStoreQuery, llmService] = await Promise.all([
      settle(this.timeoutMs, (signal) => this.counts(signal)),
      settle(this.timeoutMs, async () => {
        const store = this.vectorStore.store();
        if (!store) throw new Error('vector store not configured');
        return { data: { kind: store.kind, collections: await store.listCollections() } };
      }),
      this.llm.configured
        ? settle(this.timeoutMs, async () => {
            // through LlmService, so the ping is a `chat` span and an llm_calls_total like any call
            const answer = await this.llm.complete({
              purpose: 'health_check',
              messages: [{ role: 'user', content: 'Reply with the single word OK.' }],
              maxTokens: 5,
              signal: AbortSignal.timeout(this.timeoutMs),
            });
            return { message: `LLM responded: ${answer.text.slice(0, 50)}` };
          })
        : undefined,
    ]);
    const checks: Record<string, Check> = { database_query: databaseQuery, vector_store_query: vectorStoreQuery };
    if (llmService) checks.llm_service = llmService;
    return { checks, timestamp: Date.now() / 1000 };
  }

  private async counts(signal: AbortSignal): Promise<{ data: Record<string, number> }> {
    let rows: Array<Record<string, string | number>>;
    if (this.dataSource.options.type === 'postgres') {
      // the server gives up too, rather than keep counting for a probe nobody waits for
      const runner = this.dataSource.createQueryRunner();
      try {
        await runner.startTransaction();
        // the probe gave up while this waited for a pooled connection: nobody waits for the count
        signal.throwIfAborted();
        await runner.query(`SET LOCAL statement_timeout = ${Math.round(this.timeoutMs)}`);
        rows = (await runner.query(COUNTS_SQL)) as typeof rows;
        await runner.commitTransaction();
      } catch (error) {
        if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
        throw error;
      } finally {
        await runner.release();
      }
    } else {
      // SQLite: on the reader thread, so the timeout above can answer while a long count runs
      rows = (await this.hotReads.rows(COUNTS_SQL, {})) as Array<Record<string, string | number>>;
    }
    const [row] = rows;
    return {
      data: {
        total_tenants: Number(row?.total_tenants ?? 0),
        total_kbs: Number(row?.total_kbs ?? 0),
        total_docs: Number(row?.total_docs ?? 0),
        indexed_chunks: Number(row?.indexed_chunks ?? 0),
      },
    };
  }
}

async function settle(timeoutMs: number, work: (signal: AbortSignal) => Promise<{ data?: unknown; message?: string }>): Promise<Check> {
  try {
    return { status: 'ok', ...(await withTimeout(timeoutMs, work)) };
  } catch (error) {
    return { status: 'error', message: (error as Error).message.slice(0, 300) };
  }
}
