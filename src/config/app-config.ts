import { loadTelemetryConfig } from './telemetry-config';
import * as path from 'node:path';
import { DEFAULT_PARSE_LIMITS, type ParseLimits } from './parse-limits';

export type Role = 'all' | 'api' | 'worker';
export type EmbeddingProviderName = 'offline' | 'openai' | 'ollama';
export type LlmProviderName = 'offline' | 'openai' | 'ollama';
export type RerankProviderName = 'none' | 'cohere' | 'jina' | 'openai';

export interface DatabaseConfig {
  type: 'sqlite' | 'postgres';
  /** SQLite file path, or the Postgres connection URL */
  url: string;
  poolSize: number;
  slowQueryMs: number;
}

export interface ProviderEndpoint {
  baseUrl?: string;
  apiKey?: string;
  model: string;
  timeoutMs: number;
}

/** The one typed configuration object; built once from the environment and validated. */
export interface AppConfig {
  port: number;
  host: string;
  /** Prometheus `/metrics` listens here, never on the API port (its series name tenants and KBs) */
  metricsPort: number;
  role: Role;
  dataDir: string;
  database: DatabaseConfig;
  /** unset only until bootstrap generates one on the embedded default */
  adminApiKey?: string;
  redisUrl?: string;
  vectorStore: { kind: 'embedded' | 'qdrant'; qdrantUrl?: string; qdrantApiKey?: string };
  /** the embedded vector store, the BM25 index and SQLite's per-request reads each run on a worker thread (EMBEDDED_THREADS, default on) */
  embeddedThreads: boolean;
  embedding: ProviderEndpoint & { provider: EmbeddingProviderName; batchSize: number };
  llm: ProviderEndpoint & { provider: LlmProviderName };
  rerank: ProviderEndpoint & { provider: RerankProviderName };
  selfRagMaxRounds: number;
  /** prompt, answer and query text on spans (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT); off by default */
  captureMessageContent: boolean;
  /**
   * hybrid retrieval: the fusion method (`auto`: convex when every KB searched uses an offline
   * embedding model, RRF otherwise), the weights and RRF's constant k; `offlineDense` is the dense
   * weight when every KB searched uses an offline model (lexical features, far weaker than BM25)
   */
  retrieval: { fusion: { method: 'auto' | 'rrf' | 'convex'; dense: number; offlineDense: number; sparse: number; k: number } };
  maxUploadBytes: number;
  bodyLimitBytes: number;
  /** each check of GET /health/deep gives up after this long (ms) */
  healthDeepTimeoutMs: number;
  tenantMaxDocuments?: number;
  /** KBs one tenant may have; bounds the series a tenant can add to /metrics */
  tenantMaxKnowledgeBases: number;
  ingestionConcurrency: number;
  /** how long a claimed ingestion job stays owned without a heartbeat before another worker takes it */
  ingestionLeaseMs: number;
  /** attempts (including lease expiries) before a document is marked failed */
  ingestionMaxAttempts: number;
  /** parsing untrusted documents: the parser threads, each task's time and heap budget, the documents' shape limits */
  parsing: { threads: number; timeoutMs: number; maxHeapMb: number; limits: ParseLimits };
  /** a tenant's jobs processing at once across all workers and replicas; 0 = no limit */
  ingestionMaxConcurrentJobsPerTenant: number;
  /** a tenant's queued + processing jobs past which uploads and re-index requests get 429; 0 = no limit */
  ingestionMaxPendingJobsPerTenant: number;
  /** the orphan sweep runs at start-up and then every this many ms; 0 = at start-up only */
  orphanSweepIntervalMs: number;
  /** entries of the in-process embedding cache (Redis holds it when REDIS_URL is set) */
  embeddingCacheSize: number;
  rateLimitRps: number;
  tenantRateLimitRps: number;
  /** requests/s per API key on every authenticated route other than retrieve and rag */
  managementRateLimitRps: number;
  /** a tenant's retrieve requests running at once (the others wait their turn); 0 = no limit */
  tenantConcurrentRetrievals: number;
  /** failed authentications/s per client address past which it is refused before the key lookup; 0 = off */
  authFailureRateLimit: number;
  corsOrigins: string[];
  logLevel: 'error' | 'warn' | 'info' | 'http' | 'verbose' | 'debug' | 'silly';
  shutdownTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Env = Record<string, string | undefined>;

/** Reads and validates the environment; throws ConfigError naming every wrong value at once. */
export function loadConfig(env: Env = process.env): AppConfig {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);

  const dataDir = path.resolve(read.string('DATA_DIR', './data'));
  const databaseUrl = read.optional('DATABASE_URL');
  let database: DatabaseConfig;
  const poolSize = read.int('DATABASE_POOL_SIZE', 10, 1, 500);
  const slowQueryMs = read.int('SLOW_QUERY_MS', 1000, 1, 3_600_000);
  if (!databaseUrl) {
    database = { type: 'sqlite', url: path.join(dataDir, 'self-rag.sqlite'), poolSize: 1, slowQueryMs };
  } else if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    database = { type: 'postgres', url: databaseUrl, poolSize, slowQueryMs };
  } else {
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL (leave it unset for the embedded SQLite default)');
    database = { type: 'sqlite', url: '', poolSize, slowQueryMs };
  }

  const adminApiKey = read.optional('ADMIN_API_KEY');
  if (adminApiKey !== undefined && adminApiKey.length < 16) {
    problems.push('ADMIN_API_KEY must be at least 16 characters long');
  }
  if (adminApiKey === undefined && database.type === 'postgres') {
    problems.push('ADMIN_API_KEY is required when DATABASE_URL points at PostgreSQL (replicas must share one admin key)');
  }

  const redisUrl = read.optional('REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    problems.push('REDIS_URL must be a redis:// or rediss:// URL');
  }

  const qdrantUrl = read.optional('QDRANT_URL');
  const vectorKind = read.oneOf('VECTOR_STORE', ['embedded', 'qdrant'] as const, qdrantUrl ? 'qdrant' : 'embedded');
  if (vectorKind === 'qdrant' && !qdrantUrl) problems.push('QDRANT_URL is required when VECTOR_STORE=qdrant');
  if (qdrantUrl !== undefined) read.url('QDRANT_URL');

  const embeddingProvider = read.oneOf('EMBEDDING_PROVIDER', ['offline', 'openai', 'ollama'] as const, 'offline');
  const llmProvider = read.oneOf('LLM_PROVIDER', ['offline', 'openai', 'ollama'] as const, 'offline');
  const rerankProvider = read.oneOf('RERANK_PROVIDER', ['none', 'cohere', 'jina', 'openai'] as const, 'none');
  const embeddingBaseUrl = read.url('EMBEDDING_BASE_URL');
  const llmBaseUrl = read.url('LLM_BASE_URL');
  const rerankBaseUrl = read.url('RERANK_BASE_URL');
  if (embeddingProvider !== 'offline' && !embeddingBaseUrl) {
    problems.push(`EMBEDDING_BASE_URL is required when EMBEDDING_PROVIDER=${embeddingProvider}`);
  }
  if (llmProvider !== 'offline' && !llmBaseUrl) problems.push(`LLM_BASE_URL is required when LLM_PROVIDER=${llmProvider}`);
  if (rerankProvider !== 'none' && !rerankBaseUrl) problems.push(`RERANK_BASE_URL is required when RERANK_PROVIDER=${rerankProvider}`);
  const embeddingModel = read.string('EMBEDDING_MODEL', embeddingProvider === 'offline' ? 'offline-hash-v2' : '');
  const llmModel = read.string('LLM_MODEL', llmProvider === 'offline' ? 'offline-extractive' : '');
  if (!embeddingModel) problems.push('EMBEDDING_MODEL is required when EMBEDDING_PROVIDER is not offline');
  if (!llmModel) problems.push('LLM_MODEL is required when LLM_PROVIDER is not offline');

  const corsOrigins = (read.optional('CORS_ORIGINS') ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);

  const maxDocs = read.optional('TENANT_MAX_DOCUMENTS');
  const config: AppConfig = {
    port: read.int('PORT', 8020, 0, 65535),
    host: read.string('HOST', '0.0.0.0'),
    metricsPort: read.int('METRICS_PORT', 9464, 0, 65535),
    role: read.oneOf('ROLE', ['all', 'api', 'worker'] as const, 'all'),
    dataDir,
    database,
    adminApiKey,
    redisUrl,
    vectorStore: { kind: vectorKind, qdrantUrl, qdrantApiKey: read.optional('QDRANT_API_KEY') },
    embeddedThreads: read.oneOf('EMBEDDED_THREADS', ['true', 'false'] as const, 'true') === 'true',
    embedding: {
      provider: embeddingProvider,
      model: embeddingModel,
      baseUrl: embeddingBaseUrl,
      apiKey: read.optional('EMBEDDING_API_KEY'),
      timeoutMs: read.int('EMBEDDING_TIMEOUT_MS', 30_000, 100, 600_000),
      batchSize: read.int('EMBEDDING_BATCH_SIZE', 64, 1, 2048),
    },
    llm: {
      provider: llmProvider,
      model: llmModel,
      baseUrl: llmBaseUrl,
      apiKey: read.optional('LLM_API_KEY'),
      timeoutMs: read.int('LLM_TIMEOUT_MS', 60_000, 100, 600_000),
    },
    rerank: {
      provider: rerankProvider,
      model: read.string('RERANK_MODEL', ''),
      baseUrl: rerankBaseUrl,
      apiKey: read.optional('RERANK_API_KEY'),
      timeoutMs: read.int('RERANK_TIMEOUT_MS', 10_000, 100, 600_000),
    },
    selfRagMaxRounds: read.int('SELF_RAG_MAX_ROUNDS', 3, 1, 10),
    captureMessageContent: loadTelemetryConfig(env).captureContent,
    retrieval: {
      fusion: {
        method: read.oneOf('HYBRID_FUSION', ['auto', 'rrf', 'convex'] as const, 'auto'),
        dense: read.number('HYBRID_DENSE_WEIGHT', 1, 0, 10),
        offlineDense: read.number('HYBRID_OFFLINE_DENSE_WEIGHT', 0.5, 0, 10),
        sparse: read.number('HYBRID_SPARSE_WEIGHT', 1, 0, 10),
        k: read.int('HYBRID_RRF_K', 60, 1, 1000),
      },
    },
    maxUploadBytes: read.int('MAX_UPLOAD_BYTES', 20 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    bodyLimitBytes: read.int('BODY_LIMIT_BYTES', 1024 * 1024, 1024, 100 * 1024 * 1024),
    healthDeepTimeoutMs: read.int('HEALTH_DEEP_TIMEOUT_MS', 10_000, 100, 600_000),
    tenantMaxDocuments: maxDocs === undefined ? undefined : read.int('TENANT_MAX_DOCUMENTS', 0, 0, Number.MAX_SAFE_INTEGER),
    tenantMaxKnowledgeBases: read.int('TENANT_MAX_KNOWLEDGE_BASES', 100, 1, 100_000),
    ingestionConcurrency: read.int('INGESTION_CONCURRENCY', 2, 1, 64),
    ingestionLeaseMs: read.int('INGESTION_LEASE_MS', 30_000, 1000, 3_600_000),
    ingestionMaxAttempts: read.int('INGESTION_MAX_ATTEMPTS', 5, 1, 100),
    parsing: {
      // 0: one per ingestion worker loop, so a loop never waits for a thread
      threads: read.int('PARSE_THREADS', 0, 0, 64),
      timeoutMs: read.int('PARSE_TIMEOUT_MS', 30_000, 100, 3_600_000),
      maxHeapMb: read.int('PARSE_MAX_HEAP_MB', 512, 32, 65_536),
      limits: {
        maxTextChars: read.int('PARSE_MAX_TEXT_CHARS', DEFAULT_PARSE_LIMITS.maxTextChars, 1000, 1_000_000_000),
        pdfMaxPages: read.int('PDF_MAX_PAGES', DEFAULT_PARSE_LIMITS.pdfMaxPages, 1, 10_000_000),
        pdfMaxInflatedBytes: read.int('PDF_MAX_INFLATED_BYTES', DEFAULT_PARSE_LIMITS.pdfMaxInflatedBytes, 1024, 64 * 1024 * 1024 * 1024),
        zipMaxUncompressedBytes: read.int('ZIP_MAX_UNCOMPRESSED_BYTES', DEFAULT_PARSE_LIMITS.zipMaxUncompressedBytes, 1024, 64 * 1024 * 1024 * 1024),
        zipMaxCompressionRatio: read.int('ZIP_MAX_COMPRESSION_RATIO', DEFAULT_PARSE_LIMITS.zipMaxCompressionRatio, 1, 1_000_000),
        zipMaxEntries: read.int('ZIP_MAX_ENTRIES', DEFAULT_PARSE_LIMITS.zipMaxEntries, 1, 10_000_000),
        htmlMaxDepth: read.int('HTML_MAX_DEPTH', DEFAULT_PARSE_LIMITS.htmlMaxDepth, 8, 100_000),
        htmlMaxElements: read.int('HTML_MAX_ELEMENTS', DEFAULT_PARSE_LIMITS.htmlMaxElements, 100, 100_000_000),
      },
    },
    ingestionMaxConcurrentJobsPerTenant: read.int('INGESTION_MAX_CONCURRENT_JOBS_PER_TENANT', 32, 0, 1_000_000),
    ingestionMaxPendingJobsPerTenant: read.int('INGESTION_MAX_PENDING_JOBS_PER_TENANT', 10_000, 0, 100_000_000),
    orphanSweepIntervalMs: read.int('ORPHAN_SWEEP_INTERVAL_MS', 600_000, 0, 86_400_000),
    embeddingCacheSize: read.int('EMBEDDING_CACHE_SIZE', 50_000, 0, 10_000_000),
    rateLimitRps: read.int('RATE_LIMIT_RPS', 50, 1, 1_000_000),
    tenantRateLimitRps: read.int('RATE_LIMIT_TENANT_RPS', 200, 1, 1_000_000),
    managementRateLimitRps: read.int('RATE_LIMIT_MANAGEMENT_RPS', 100, 1, 1_000_000),
    authFailureRateLimit: read.int('RATE_LIMIT_AUTH_FAILURES', 20, 0, 1_000_000),
    tenantConcurrentRetrievals: read.int('TENANT_CONCURRENT_RETRIEVALS', 4, 0, 100_000),
    corsOrigins,
    logLevel: read.oneOf('LOG_LEVEL', ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const, 'info'),
    shutdownTimeoutMs: read.int('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
  };
  if (config.metricsPort !== 0 && config.metricsPort === config.port) problems.push('METRICS_PORT must differ from PORT');
  if (problems.length > 0) throw new ConfigError(problems);
  if (config.parsing.threads === 0) config.parsing.threads = config.ingestionConcurrency;
  return config;
}

class EnvReader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  optional(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.optional(name) ?? fallback;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be an integer between ${min} and ${max} (got '${raw}')`);
      return fallback;
    }
    return value;
  }

  number(name: string, fallback: number, min: number, max: number): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^-?\d+(\.\d+)?$/.test(raw) || value < min || value > max) {
      this.problems.push(`${name} must be a number between ${min} and ${max} (got '${raw}')`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got '${raw}')`);
      return fallback;
    }
    return raw as T;
  }

  url(name: string): string | undefined {
    const raw = this.optional(name);
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('protocol');
      return raw.replace(/\/+$/, '');
    } catch {
      this.problems.push(`${name} must be an http(s) URL (got '${raw}')`);
      return undefined;
    }
  }
}
