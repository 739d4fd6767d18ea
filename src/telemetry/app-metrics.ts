import { metrics, ValueType, type Attributes, type Counter, type Histogram, type Meter } from '@opentelemetry/api';
import { BUCKETS, METRICS, SEMCONV_METRICS, STATUS } from './metric-names';
import { tenantScopedSeries } from './tenant-series';

export const METER_NAME = 'self-rag-pipeline';

type Status = (typeof STATUS)[keyof typeof STATUS];
export type RagOperationType = 'standard' | 'self-rag' | 'retrieve_decision' | 'relevance' | 'support' | 'usefulness' | 'answer_outcome';
/** a verdict's; `answer_outcome`: whether the answer cited something or abstained */
export type RagVerdictStatus = 'pass' | 'fail' | 'malformed' | 'answered' | 'abstained';

/**
 * The guide's counters and histograms, created once from the global meter (a no-op until the
 * SDK starts, so unit tests and OTEL_SDK_DISABLED cost nothing). Gauges are registered by
 * BusinessGauges; the families labelled by kb_id / tenant_id live in TenantScopedSeries.
 * Histogram buckets are set by explicit advice per kind of call.
 */
export class AppMetrics {
  private readonly httpRequests: Counter;
  private readonly httpDuration: Histogram;
  private readonly ragOperations: Counter;
  private readonly documentIngestion: Counter;
  private readonly llmCalls: Counter;
  private readonly llmDuration: Histogram;
  private readonly embeddingCalls: Counter;
  private readonly embeddingDuration: Histogram;
  private readonly vectorStoreOperations: Counter;
  private readonly vectorStoreDuration: Histogram;
  private readonly genAiDuration: Histogram;
  private readonly genAiTokens: Histogram;
  private readonly cacheHits: Counter;
  private readonly cacheMisses: Counter;

  constructor(readonly meter: Meter = metrics.getMeter(METER_NAME)) {
    const counter = (m: { name: string }, description: string) => meter.createCounter(m.name, { description, valueType: ValueType.INT });
    const histogram = (m: { name: string }, description: string, buckets: readonly number[]) =>
      meter.createHistogram(m.name, { description, unit: 's', advice: { explicitBucketBoundaries: [...buckets] } });

    this.httpRequests = counter(METRICS.httpRequestsTotal, 'Total HTTP requests');
    this.httpDuration = histogram(METRICS.httpRequestDuration, 'HTTP request duration', BUCKETS.http);
    this.ragOperations = counter(METRICS.ragOperationsTotal, 'RAG operations');
    this.documentIngestion = counter(METRICS.documentIngestionTotal, 'Documents ingested (indexed or failed), or refused at upload over a quota (rejected)');
    this.llmCalls = counter(METRICS.llmCallsTotal, 'LLM calls');
    this.llmDuration = histogram(METRICS.llmCallDuration, 'LLM call duration', BUCKETS.llm);
    this.embeddingCalls = counter(METRICS.embeddingCallsTotal, 'Embedding calls');
    this.embeddingDuration = histogram(METRICS.embeddingCallDuration, 'Embedding call duration', BUCKETS.embedding);
    this.vectorStoreOperations = counter(METRICS.vectorStoreOperationsTotal, 'Vector store operations');
    this.vectorStoreDuration = histogram(METRICS.vectorStoreOperationDuration, 'Vector store operation duration', BUCKETS.vectorStore);
    // OpenTelemetry GenAI semantic-convention metrics, next to the guide's names
    this.genAiDuration = meter.createHistogram(SEMCONV_METRICS.genAiOperationDuration.name, {
      description: 'GenAI operation duration',
      unit: SEMCONV_METRICS.genAiOperationDuration.unit,
      advice: { explicitBucketBoundaries: [...SEMCONV_METRICS.genAiOperationDuration.buckets] },
    });
    this.genAiTokens = meter.createHistogram(SEMCONV_METRICS.genAiTokenUsage.name, {
      description: 'Measures number of input and output tokens used',
      unit: SEMCONV_METRICS.genAiTokenUsage.unit,
      valueType: ValueType.INT,
      advice: { explicitBucketBoundaries: [...SEMCONV_METRICS.genAiTokenUsage.buckets] },
    });
    this.cacheHits = counter(METRICS.cacheHitsTotal, 'Embedding cache hits');
    this.cacheMisses = counter(METRICS.cacheMissesTotal, 'Embedding cache misses');
  }

  recordHttp(method: string, endpoint: string, statusCode: number, seconds: number): void {
    this.httpRequests.add(1, { method, endpoint, status_code: String(statusCode) });
    this.httpDuration.record(seconds, { method, endpoint });
  }

  /**
   * A whole answer (`standard` | `self-rag`, status success | error), or one Self-RAG verdict
   * (`retrieve_decision` | `relevance` | `support` | `usefulness`, status pass | fail | malformed),
   * or how an answer ended (`answer_outcome`, status answered | abstained: it cites nothing).
   */
  recordRag(operationType: RagOperationType, status: Status | RagVerdictStatus): void {
    this.ragOperations.add(1, { operation_type: operationType, status });
  }

  /** kept by TenantScopedSeries, which drops a deleted KB's series (the SDK never would) */
  recordRetrieval(retrieverType: 'dense' | 'sparse' | 'hybrid', kbId: string): void {
    tenantScopedSeries().countRetrieval(retrieverType, kbId);
  }

  /** `rejected`: an upload or re-index refused with a 429 (document quota or pending-jobs limit); nothing was stored */
  recordIngestion(status: 'indexed' | 'failed' | 'rejected', chunkerType: string): void {
    this.documentIngestion.add(1, { status, chunker_type: chunkerType });
  }

  recordLlmCall(provider: string, model: string, status: Status, seconds: number, usage?: TokenCounts): void {
    this.llmCalls.add(1, { provider, model, status });
    this.llmDuration.record(seconds, { provider, model });
    this.recordGenAi('chat', provider, model, status, seconds, usage);
  }

  recordEmbeddingCall(provider: string, model: string, status: Status, seconds: number, usage?: TokenCounts): void {
    this.embeddingCalls.add(1, { provider, model, status });
    this.embeddingDuration.record(seconds, { provider, model });
    this.recordGenAi('embeddings', provider, model, status, seconds, usage);
  }

  private recordGenAi(operation: string, provider: string, model: string, status: Status, seconds: number, usage?: TokenCounts): void {
    const attributes = {
      'gen_ai.operation.name': operation,
      'gen_ai.provider.name': provider,
      'gen_ai.request.model': model,
      ...(status === STATUS.error && { 'error.type': 'error' }),
    };
    this.genAiDuration.record(seconds, attributes);
    if (usage) {
      this.genAiTokens.record(usage.inputTokens, { ...attributes, 'gen_ai.token.type': 'input' });
      if (operation === 'chat') this.genAiTokens.record(usage.outputTokens, { ...attributes, 'gen_ai.token.type': 'output' });
    }
  }

  recordVectorStoreOperation(operation: string, collection: string, status: Status, seconds: number): void {
    this.vectorStoreOperations.add(1, { operation, collection, status });
    this.vectorStoreDuration.record(seconds, { operation, collection });
  }

  recordCache(hits: number, misses: number): void {
    if (hits > 0) this.cacheHits.add(hits);
    if (misses > 0) this.cacheMisses.add(misses);
  }
}

export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
}

/** One shared instance: instruments must be created once per meter. Nest code gets it injected (MetricsModule). */
let shared: AppMetrics | undefined;
export function appMetrics(): AppMetrics {
  shared ??= new AppMetrics();
  return shared;
}

export type { Attributes };
