import { METRIC_GEN_AI_CLIENT_OPERATION_DURATION, METRIC_GEN_AI_CLIENT_TOKEN_USAGE, METRIC_HTTP_SERVER_REQUEST_DURATION } from './semconv';

/**
 * Every metric the service exports, with the monitoring guide's exact names, types and labels
 * (tables 核心业务指标, 外部服务调用指标, 系统资源指标). Compare line by line with the guide.
 * Differences from the guide, on purpose (SPEC section 5):
 * - `endpoint` is the route template (`/v1/knowledge-bases/:kb_id`), never the raw path;
 * - `vector_store_operations_total` also carries `status`, which the guide's alert uses.
 */
export const METRICS = {
  // 核心业务指标
  httpRequestsTotal: { name: 'http_requests_total', type: 'counter', labels: ['method', 'endpoint', 'status_code'] },
  httpRequestDuration: { name: 'http_request_duration_seconds', type: 'histogram', labels: ['method', 'endpoint'] },
  ragOperationsTotal: { name: 'rag_operations_total', type: 'counter', labels: ['operation_type', 'status'] },
  retrievalOperationsTotal: { name: 'retrieval_operations_total', type: 'counter', labels: ['retriever_type', 'kb_id'] },
  documentIngestionTotal: { name: 'document_ingestion_total', type: 'counter', labels: ['status', 'chunker_type'] },
  activeApiKeys: { name: 'active_api_keys', type: 'gauge', labels: ['tenant_id'] },
  knowledgeBasesTotal: { name: 'knowledge_bases_total', type: 'gauge', labels: ['tenant_id'] },
  documentsTotal: { name: 'documents_total', type: 'gauge', labels: ['tenant_id', 'kb_id'] },
  chunksTotal: { name: 'chunks_total', type: 'gauge', labels: ['tenant_id', 'kb_id', 'status'] },
  // 外部服务调用指标
  llmCallsTotal: { name: 'llm_calls_total', type: 'counter', labels: ['provider', 'model', 'status'] },
  llmCallDuration: { name: 'llm_call_duration_seconds', type: 'histogram', labels: ['provider', 'model'] },
  embeddingCallsTotal: { name: 'embedding_calls_total', type: 'counter', labels: ['provider', 'model', 'status'] },
  embeddingCallDuration: { name: 'embedding_call_duration_seconds', type: 'histogram', labels: ['provider', 'model'] },
  vectorStoreOperationsTotal: {
    name: 'vector_store_operations_total',
    type: 'counter',
    labels: ['operation', 'collection', 'status'],
  },
  vectorStoreOperationDuration: {
    name: 'vector_store_operation_duration_seconds',
    type: 'histogram',
    labels: ['operation', 'collection'],
  },
  // 系统资源指标
  processCpuSecondsTotal: { name: 'process_cpu_seconds_total', type: 'counter', labels: [] },
  processResidentMemoryBytes: { name: 'process_resident_memory_bytes', type: 'gauge', labels: [] },
  processOpenFds: { name: 'process_open_fds', type: 'gauge', labels: [] },
  databaseConnectionsActive: { name: 'database_connections_active', type: 'gauge', labels: [] },
  databaseConnectionsIdle: { name: 'database_connections_idle', type: 'gauge', labels: [] },
  cacheHitsTotal: { name: 'cache_hits_total', type: 'counter', labels: [] },
  cacheMissesTotal: { name: 'cache_misses_total', type: 'counter', labels: [] },
} as const;

/**
 * Node.js runtime metrics, not in the guide: a stalled event loop (synchronous work on the HTTP
 * thread) must be visible. Prometheus-style names after prom-client's `nodejs_eventloop_lag_*`
 * and OpenTelemetry's `nodejs.eventloop.delay.*` / `nodejs.eventloop.utilization`; the gauges
 * cover the last ~30 s (event-loop-monitor.ts).
 */
export const RUNTIME_METRICS = {
  eventLoopDelayP50: { name: 'nodejs_eventloop_delay_p50_seconds', type: 'gauge', labels: [] },
  eventLoopDelayP99: { name: 'nodejs_eventloop_delay_p99_seconds', type: 'gauge', labels: [] },
  eventLoopDelayMax: { name: 'nodejs_eventloop_delay_max_seconds', type: 'gauge', labels: [] },
  eventLoopUtilization: { name: 'nodejs_eventloop_utilization_ratio', type: 'gauge', labels: [] },
  eventLoopStallsTotal: { name: 'nodejs_eventloop_stalls_total', type: 'counter', labels: [] },
} as const;

/**
 * OpenTelemetry semantic-convention metrics, pushed over OTLP next to the guide's names (Prometheus
 * shows them as `gen_ai_client_*`), with the buckets the conventions advise.
 */
export const SEMCONV_METRICS = {
  // the buckets instrumentation-http gives it
  httpServerRequestDuration: {
    name: METRIC_HTTP_SERVER_REQUEST_DURATION,
    unit: 's',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
  },
  genAiOperationDuration: {
    name: METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
    unit: 's',
    buckets: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
  },
  genAiTokenUsage: {
    name: METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
    unit: '{token}',
    buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
  },
} as const;

/** Label values used by more than one producer. */
export const STATUS = { success: 'success', error: 'error' } as const;

/** Histogram buckets in seconds, chosen per kind of call. */
export const BUCKETS = {
  http: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10],
  llm: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60],
  embedding: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  vectorStore: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
} as const;
