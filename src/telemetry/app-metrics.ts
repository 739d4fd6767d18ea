import { metrics, ValueType, type Attributes, type Counter, type Histogram, type Meter } from '@opentelemetry/api';
import { BUCKETS, METRICS, SEMCONV_METRICS, STATUS } from './metric-names';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_URL_SCHEME,
  METRIC_HTTP_SERVER_REQUEST_DURATION,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_TOKEN_TYPE,
  GEN_AI_OPERATION_NAME_VALUE_CHAT,
  GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS,
  GEN_AI_TOKEN_TYPE_VALUE_INPUT,
  GEN_AI_TOKEN_TYPE_VALUE_OUTPUT,
} from './semconv';
import {
  preAggregatedSeries,
  type CounterSeries,
  type HistogramSeries,
  type KeyedFamily,
  type PreAggregatedSeries,
} from './pre-aggregated-series';
import { normalizedMethod } from './http-server-span';
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
  // recorded on every request: pre-aggregated by a key, not hashed by the SDK (pre-aggregated-series.ts)
  private readonly httpRequests: KeyedFamily<CounterSeries>;
  private readonly httpDuration: KeyedFamily<HistogramSeries>;
  private readonly httpServerDuration: KeyedFamily<HistogramSeries>;
  /** a request's three series by method, route, statuses and protocol: found once, not per request */
  private readonly httpSeries = new Map<string, HttpSeries>();
  private readonly ragOperations: Counter;
  private readonly documentIngestion: Counter;
  private readonly llmCalls: Counter;
  private readonly llmDuration: Histogram;
  private readonly embeddingCalls: Counter;
  private readonly embeddingDuration: Histogram;
  // one search per retrieval: pre-aggregated as the HTTP families are
  private readonly vectorStoreOperations: KeyedFamily<CounterSeries>;
  private readonly vectorStoreDuration: KeyedFamily<HistogramSeries>;
  private readonly genAiDuration: Histogram;
  private readonly genAiTokens: Histogram;
  private readonly cacheHits: Counter;
  private readonly cacheMisses: Counter;

  constructor(
    readonly meter: Meter = metrics.getMeter(METER_NAME),
    private readonly perRequest: PreAggregatedSeries = preAggregatedSeries(),
  ) {
    const counter = (m: { name: string }, description: string) => meter.createCounter(m.name, { description, valueType: ValueType.INT });
    const histogram = (m: { name: string }, description: string, buckets: readonly number[]) =>
      meter.createHistogram(m.name, { description, unit: 's', advice: { explicitBucketBoundaries: [...buckets] } });

    this.httpRequests = perRequest.counter({ name: METRICS.httpRequestsTotal.name, description: 'Total HTTP requests', unit: '' });
    this.httpDuration = perRequest.histogram(
      { name: METRICS.httpRequestDuration.name, description: 'HTTP request duration', unit: 's' },
      BUCKETS.http,
    );
    // the semantic-convention histogram from the same measurement as the guide's (the server span is ours: http-server-span.ts)
    this.httpServerDuration = perRequest.histogram(
      { name: METRIC_HTTP_SERVER_REQUEST_DURATION, description: 'Duration of HTTP server requests.', unit: 's' },
      SEMCONV_METRICS.httpServerRequestDuration.buckets,
    );
    this.ragOperations = counter(METRICS.ragOperationsTotal, 'RAG operations');
    this.documentIngestion = counter(
      METRICS.documentIngestionTotal,
      'Documents ingested (indexed or failed), or refused at upload over a quota (rejected)',
    );
    this.llmCalls = counter(METRICS.llmCallsTotal, 'LLM calls');
    this.llmDuration = histogram(METRICS.llmCallDuration, 'LLM call duration', BUCKETS.llm);
    this.embeddingCalls = counter(METRICS.embeddingCallsTotal, 'Embedding calls');
    this.embeddingDuration = histogram(METRICS.embeddingCallDuration, 'Embedding call duration', BUCKETS.embedding);
    this.vectorStoreOperations = perRequest.counter({
      name: METRICS.vectorStoreOperationsTotal.name,
      description: 'Vector store operations',
      unit: '',
    });
    this.vectorStoreDuration = perRequest.histogram(
      { name: METRICS.vectorStoreOperationDuration.name, description: 'Vector store operation duration', unit: 's' },
      BUCKETS.vectorStore,
    );
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

  /**
   * The guide's http_requests_total and http_request_duration_seconds (`statusCode`: 499 when the
   * client left first), and the semantic conventions' http.server.request.duration (`response`:
   * the status the server set, the route only when one matched, the protocol version).
   */
  recordHttp(
    method: string,
    endpoint: string,
    statusCode: number,
    seconds: number,
    response: { statusCode: number; matched: boolean; protocolVersion: string },
  ): void {
    if (!this.perRequest.recording) return;
    const key = `${method} ${endpoint} ${statusCode} ${response.statusCode} ${response.matched ? 1 : 0} ${response.protocolVersion}`;
    let series = this.httpSeries.get(key);
    if (!series) {
      // each family by its own labels: two requests' keys can share a family's label set
      const semconvMethod = normalizedMethod(method);
      series = {
        requests: this.httpRequests.get(`${method} ${endpoint} ${statusCode}`, () => ({
          method,
          endpoint,
          status_code: String(statusCode),
        })),
        duration: this.httpDuration.get(`${method} ${endpoint}`, () => ({ method, endpoint })),
        server: this.httpServerDuration.get(
          `${semconvMethod} ${response.matched ? endpoint : ''} ${response.statusCode} ${response.protocolVersion}`,
          () => ({
            [ATTR_HTTP_REQUEST_METHOD]: semconvMethod,
            [ATTR_URL_SCHEME]: 'http',
            ...(response.protocolVersion && { [ATTR_NETWORK_PROTOCOL_VERSION]: response.protocolVersion }),
            ...(response.matched && { [ATTR_HTTP_ROUTE]: endpoint }),
            [ATTR_HTTP_RESPONSE_STATUS_CODE]: response.statusCode,
            ...(response.statusCode >= 500 && response.statusCode < 600 && { [ATTR_ERROR_TYPE]: String(response.statusCode) }),
          }),
        ),
      };
      // methods are client-chosen strings: past this many combinations they are looked up per request
      if (this.httpSeries.size < MAX_CACHED_HTTP_SERIES) this.httpSeries.set(key, series);
    }
    series.requests.add(1);
    series.duration.record(seconds);
    series.server.record(seconds);
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
    this.recordGenAi(GEN_AI_OPERATION_NAME_VALUE_CHAT, provider, model, status, seconds, usage);
  }

  recordEmbeddingCall(provider: string, model: string, status: Status, seconds: number, usage?: TokenCounts): void {
    this.embeddingCalls.add(1, { provider, model, status });
    this.embeddingDuration.record(seconds, { provider, model });
    this.recordGenAi(GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS, provider, model, status, seconds, usage);
  }

  private recordGenAi(operation: string, provider: string, model: string, status: Status, seconds: number, usage?: TokenCounts): void {
    const attributes = {
      [ATTR_GEN_AI_OPERATION_NAME]: operation,
      [ATTR_GEN_AI_PROVIDER_NAME]: provider,
      [ATTR_GEN_AI_REQUEST_MODEL]: model,
      ...(status === STATUS.error && { [ATTR_ERROR_TYPE]: 'error' }),
    };
    this.genAiDuration.record(seconds, attributes);
    if (usage) {
      this.genAiTokens.record(usage.inputTokens, { ...attributes, [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_INPUT });
      if (operation === GEN_AI_OPERATION_NAME_VALUE_CHAT)
        this.genAiTokens.record(usage.outputTokens, { ...attributes, [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_OUTPUT });
    }
  }

  recordVectorStoreOperation(operation: string, collection: string, status: Status, seconds: number): void {
    if (!this.perRequest.recording) return;
    // operations and statuses are the service's words, collections one per embedding model: few keys
    this.vectorStoreOperations.get(`${operation} ${collection} ${status}`, () => ({ operation, collection, status })).add(1);
    this.vectorStoreDuration.get(`${operation} ${collection}`, () => ({ operation, collection })).record(seconds);
  }

  recordCache(hits: number, misses: number): void {
    if (hits > 0) this.cacheHits.add(hits);
    if (misses > 0) this.cacheMisses.add(misses);
  }
}

interface HttpSeries {
  requests: CounterSeries;
  duration: HistogramSeries;
  server: HistogramSeries;
}

const MAX_CACHED_HTTP_SERIES = 2_000;

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
