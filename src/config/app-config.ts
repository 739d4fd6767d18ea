import * as path from 'node:path';
import { DEFAULT_PARSE_LIMITS, type ParseLimits } from './parse-limits';
import {
  EnvBoolean,
  EnvInt,
  EnvList,
  EnvNumber,
  EnvOneOf,
  EnvOptIn,
  EnvSection,
  EnvString,
  EnvUrl,
  environmentVariables,
  readEnvironment,
} from './env-schema';

/**
 * The configuration, declared once: each class below is both the type the service sees and the
 * schema its environment is read by (variable, constraints, default = initializer; env-schema.ts).
 * Settings whose default depends on other variables are left unset here and settled in
 * `loadConfig`, with the checks that relate variables to each other.
 */

const ROLES = ['all', 'api', 'worker'] as const;
const EMBEDDING_PROVIDERS = ['offline', 'openai', 'ollama'] as const;
const LLM_PROVIDERS = ['offline', 'openai', 'ollama'] as const;
const RERANK_PROVIDERS = ['none', 'cohere', 'jina', 'openai'] as const;
const FUSION_METHODS = ['auto', 'rrf', 'convex'] as const;
const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
const VECTOR_STORES = ['embedded', 'qdrant'] as const;

export type Role = (typeof ROLES)[number];
export type EmbeddingProviderName = (typeof EMBEDDING_PROVIDERS)[number];
export type LlmProviderName = (typeof LLM_PROVIDERS)[number];
export type RerankProviderName = (typeof RERANK_PROVIDERS)[number];

export class DatabaseConfig {
  /** PostgreSQL when DATABASE_URL is set, else the embedded SQLite file under DATA_DIR */
  type: 'sqlite' | 'postgres';

  /** SQLite file path, or the Postgres connection URL */
  @EnvString('DATABASE_URL', {
    matches: {
      pattern: /^postgres(ql)?:\/\//,
      message: 'DATABASE_URL must be a postgres:// or postgresql:// URL (leave it unset for the embedded SQLite default)',
    },
  })
  url: string;

  @EnvInt('DATABASE_POOL_SIZE', 1, 500)
  poolSize = 10;

  @EnvInt('SLOW_QUERY_MS', 1, 3_600_000)
  slowQueryMs = 1000;
}

export class VectorStoreConfig {
  /** default: `qdrant` when QDRANT_URL is set, else `embedded` */
  @EnvOneOf('VECTOR_STORE', VECTOR_STORES, { optional: true })
  kind: (typeof VECTOR_STORES)[number];

  @EnvUrl('QDRANT_URL', { keepTrailingSlash: true, onInvalid: 'keep' })
  qdrantUrl?: string;

  @EnvString('QDRANT_API_KEY')
  qdrantApiKey?: string;
}

export interface ProviderEndpoint {
  baseUrl?: string;
  apiKey?: string;
  model: string;
  timeoutMs: number;
}

export class EmbeddingConfig implements ProviderEndpoint {
  @EnvOneOf('EMBEDDING_PROVIDER', EMBEDDING_PROVIDERS)
  provider: EmbeddingProviderName = 'offline';

  /** default: `offline-hash-v2` with the offline provider; required with any other */
  @EnvString('EMBEDDING_MODEL')
  model: string;

  @EnvUrl('EMBEDDING_BASE_URL')
  baseUrl?: string;

  @EnvString('EMBEDDING_API_KEY')
  apiKey?: string;

  @EnvInt('EMBEDDING_TIMEOUT_MS', 100, 600_000)
  timeoutMs = 30_000;

  @EnvInt('EMBEDDING_BATCH_SIZE', 1, 2048)
  batchSize = 64;
}

export class LlmConfig implements ProviderEndpoint {
  @EnvOneOf('LLM_PROVIDER', LLM_PROVIDERS)
  provider: LlmProviderName = 'offline';

  /** default: `offline-extractive` with the offline provider; required with any other */
  @EnvString('LLM_MODEL')
  model: string;

  @EnvUrl('LLM_BASE_URL')
  baseUrl?: string;

  @EnvString('LLM_API_KEY')
  apiKey?: string;

  @EnvInt('LLM_TIMEOUT_MS', 100, 600_000)
  timeoutMs = 60_000;
}

export class RerankConfig implements ProviderEndpoint {
  @EnvOneOf('RERANK_PROVIDER', RERANK_PROVIDERS)
  provider: RerankProviderName = 'none';

  @EnvString('RERANK_MODEL')
  model = '';

  @EnvUrl('RERANK_BASE_URL')
  baseUrl?: string;

  @EnvString('RERANK_API_KEY')
  apiKey?: string;

  @EnvInt('RERANK_TIMEOUT_MS', 100, 600_000)
  timeoutMs = 10_000;
}

/**
 * hybrid retrieval: the fusion method (`auto`: convex when every KB searched uses an offline
 * embedding model, RRF otherwise), the weights and RRF's constant k; `offlineDense` is the dense
 * weight when every KB searched uses an offline model (lexical features, far weaker than BM25)
 */
export class FusionConfig {
  @EnvOneOf('HYBRID_FUSION', FUSION_METHODS)
  method: (typeof FUSION_METHODS)[number] = 'auto';

  @EnvNumber('HYBRID_DENSE_WEIGHT', 0, 10)
  dense = 1;

  @EnvNumber('HYBRID_OFFLINE_DENSE_WEIGHT', 0, 10)
  offlineDense = 0.5;

  @EnvNumber('HYBRID_SPARSE_WEIGHT', 0, 10)
  sparse = 1;

  @EnvInt('HYBRID_RRF_K', 1, 1000)
  k = 60;
}

export class RetrievalConfig {
  @EnvSection(() => FusionConfig)
  fusion: FusionConfig;
}

/** the documents' shape limits, checked before the parsing work they guard */
export class ParseLimitsConfig implements ParseLimits {
  @EnvInt('PARSE_MAX_TEXT_CHARS', 1000, 1_000_000_000)
  maxTextChars = DEFAULT_PARSE_LIMITS.maxTextChars;

  @EnvInt('PARSE_MAX_CHUNKS', 1, 100_000_000)
  maxChunks = DEFAULT_PARSE_LIMITS.maxChunks;

  @EnvInt('PDF_MAX_PAGES', 1, 10_000_000)
  pdfMaxPages = DEFAULT_PARSE_LIMITS.pdfMaxPages;

  @EnvInt('PDF_MAX_INFLATED_BYTES', 1024, 64 * 1024 * 1024 * 1024)
  pdfMaxInflatedBytes = DEFAULT_PARSE_LIMITS.pdfMaxInflatedBytes;

  @EnvInt('ZIP_MAX_UNCOMPRESSED_BYTES', 1024, 64 * 1024 * 1024 * 1024)
  zipMaxUncompressedBytes = DEFAULT_PARSE_LIMITS.zipMaxUncompressedBytes;

  @EnvInt('ZIP_MAX_COMPRESSION_RATIO', 1, 1_000_000)
  zipMaxCompressionRatio = DEFAULT_PARSE_LIMITS.zipMaxCompressionRatio;

  @EnvInt('ZIP_MAX_ENTRIES', 1, 10_000_000)
  zipMaxEntries = DEFAULT_PARSE_LIMITS.zipMaxEntries;

  @EnvInt('HTML_MAX_DEPTH', 8, 100_000)
  htmlMaxDepth = DEFAULT_PARSE_LIMITS.htmlMaxDepth;

  @EnvInt('HTML_MAX_ELEMENTS', 100, 100_000_000)
  htmlMaxElements = DEFAULT_PARSE_LIMITS.htmlMaxElements;
}

/** parsing untrusted documents: the parser threads, each task's time and heap budget, the documents' shape limits */
export class ParsingConfig {
  /** 0 in the environment: one per ingestion worker loop, so a loop never waits for a thread */
  @EnvInt('PARSE_THREADS', 0, 64)
  threads = 0;

  @EnvInt('PARSE_TIMEOUT_MS', 100, 3_600_000)
  timeoutMs = 30_000;

  @EnvInt('PARSE_MAX_HEAP_MB', 32, 65_536)
  maxHeapMb = 512;

  @EnvSection(() => ParseLimitsConfig)
  limits: ParseLimitsConfig;
}

/** The one typed configuration object; built once from the environment and validated. */
export class AppConfig {
  @EnvInt('PORT', 0, 65535)
  port = 8020;

  @EnvString('HOST')
  host = '0.0.0.0';

  /** Prometheus `/metrics` listens here, never on the API port (its series name tenants and KBs) */
  @EnvInt('METRICS_PORT', 0, 65535)
  metricsPort = 9464;

  @EnvOneOf('ROLE', ROLES)
  role: Role = 'all';

  /** absolute once loaded */
  @EnvString('DATA_DIR')
  dataDir = './data';

  @EnvSection(() => DatabaseConfig)
  database: DatabaseConfig;

  /** unset only until bootstrap generates one on the embedded default */
  @EnvString('ADMIN_API_KEY', {
    minLength: { length: 16, message: 'ADMIN_API_KEY must be at least 16 characters long' },
    onInvalid: 'keep',
  })
  adminApiKey?: string;

  @EnvString('REDIS_URL', {
    matches: { pattern: /^rediss?:\/\//, message: 'REDIS_URL must be a redis:// or rediss:// URL' },
    onInvalid: 'keep',
  })
  redisUrl?: string;

  @EnvSection(() => VectorStoreConfig)
  vectorStore: VectorStoreConfig;

  /** the embedded vector store, the BM25 index and SQLite's per-request reads each run on a worker thread (EMBEDDED_THREADS, default on) */
  @EnvBoolean('EMBEDDED_THREADS')
  embeddedThreads = true;

  @EnvSection(() => EmbeddingConfig)
  embedding: EmbeddingConfig;

  @EnvSection(() => LlmConfig)
  llm: LlmConfig;

  @EnvSection(() => RerankConfig)
  rerank: RerankConfig;

  @EnvInt('SELF_RAG_MAX_ROUNDS', 1, 10)
  selfRagMaxRounds = 3;

  /** prompt, answer and query text on spans; off by default */
  @EnvOptIn('OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT')
  captureMessageContent = false;

  @EnvSection(() => RetrievalConfig)
  retrieval: RetrievalConfig;

  @EnvInt('MAX_UPLOAD_BYTES', 1024, 1024 * 1024 * 1024)
  maxUploadBytes = 20 * 1024 * 1024;

  /** multipart bytes a tenant may upload per second on one instance (a burst of 2 × MAX_UPLOAD_BYTES); 0 = no limit */
  @EnvInt('UPLOAD_BYTES_PER_SECOND_PER_TENANT', 0, 1024 * 1024 * 1024)
  uploadBytesPerSecondPerTenant = 2 * 1024 * 1024;

  @EnvInt('BODY_LIMIT_BYTES', 1024, 100 * 1024 * 1024)
  bodyLimitBytes = 1024 * 1024;

  /** each check of GET /health/deep gives up after this long (ms) */
  @EnvInt('HEALTH_DEEP_TIMEOUT_MS', 100, 600_000)
  healthDeepTimeoutMs = 10_000;

  /** unset: no deployment-wide document quota */
  @EnvInt('TENANT_MAX_DOCUMENTS', 0, Number.MAX_SAFE_INTEGER, { optional: true })
  tenantMaxDocuments?: number;

  /** KBs one tenant may have; bounds the series a tenant can add to /metrics */
  @EnvInt('TENANT_MAX_KNOWLEDGE_BASES', 1, 100_000)
  tenantMaxKnowledgeBases = 100;

  @EnvInt('INGESTION_CONCURRENCY', 1, 64)
  ingestionConcurrency = 2;

  /** how long a claimed ingestion job stays owned without a heartbeat before another worker takes it */
  @EnvInt('INGESTION_LEASE_MS', 1000, 3_600_000)
  ingestionLeaseMs = 30_000;

  /** attempts (including lease expiries) before a document is marked failed */
  @EnvInt('INGESTION_MAX_ATTEMPTS', 1, 100)
  ingestionMaxAttempts = 5;

  @EnvSection(() => ParsingConfig)
  parsing: ParsingConfig;

  /** a tenant's jobs processing at once across all workers and replicas; 0 = no limit */
  @EnvInt('INGESTION_MAX_CONCURRENT_JOBS_PER_TENANT', 0, 1_000_000)
  ingestionMaxConcurrentJobsPerTenant = 32;

  /** a tenant's queued + processing jobs past which uploads and re-index requests get 429; 0 = no limit */
  @EnvInt('INGESTION_MAX_PENDING_JOBS_PER_TENANT', 0, 100_000_000)
  ingestionMaxPendingJobsPerTenant = 10_000;

  /** the orphan sweep runs at start-up and then every this many ms; 0 = at start-up only */
  @EnvInt('ORPHAN_SWEEP_INTERVAL_MS', 0, 86_400_000)
  orphanSweepIntervalMs = 600_000;

  /** entries of the in-process embedding cache (Redis holds it when REDIS_URL is set) */
  @EnvInt('EMBEDDING_CACHE_SIZE', 0, 10_000_000)
  embeddingCacheSize = 50_000;

  @EnvInt('RATE_LIMIT_RPS', 1, 1_000_000)
  rateLimitRps = 50;

  @EnvInt('RATE_LIMIT_TENANT_RPS', 1, 1_000_000)
  tenantRateLimitRps = 200;

  /** requests/s per API key on every authenticated route other than retrieve and rag */
  @EnvInt('RATE_LIMIT_MANAGEMENT_RPS', 1, 1_000_000)
  managementRateLimitRps = 100;

  /** failed authentications/s per client address past which it is refused before the key lookup; 0 = off */
  @EnvInt('RATE_LIMIT_AUTH_FAILURES', 0, 1_000_000)
  authFailureRateLimit = 20;

  /** a tenant's retrieve requests running at once (the others wait their turn); 0 = no limit */
  @EnvInt('TENANT_CONCURRENT_RETRIEVALS', 0, 100_000)
  tenantConcurrentRetrievals = 4;

  @EnvList('CORS_ORIGINS')
  corsOrigins: string[] = [];

  @EnvOneOf('LOG_LEVEL', LOG_LEVELS)
  logLevel: (typeof LOG_LEVELS)[number] = 'info';

  @EnvInt('SHUTDOWN_TIMEOUT_MS', 0, 600_000)
  shutdownTimeoutMs = 10_000;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Env = Record<string, string | undefined>;

/** Every environment variable the configuration reads. */
export function configurationVariables(): string[] {
  return environmentVariables(AppConfig);
}

/** Reads and validates the environment; throws ConfigError naming every wrong value at once. */
export function loadConfig(env: Env = process.env): AppConfig {
  const { value: config, problems } = readEnvironment(AppConfig, env);

  config.dataDir = path.resolve(config.dataDir);
  const database = config.database;
  if (database.url === undefined) {
    Object.assign(database, { type: 'sqlite', url: path.join(config.dataDir, 'self-rag.sqlite'), poolSize: 1 });
  } else {
    database.type = 'postgres';
  }
  if (config.adminApiKey === undefined && database.type === 'postgres') {
    problems.push('ADMIN_API_KEY is required when DATABASE_URL points at PostgreSQL (replicas must share one admin key)');
  }

  const vectorStore = config.vectorStore;
  vectorStore.kind ??= vectorStore.qdrantUrl ? 'qdrant' : 'embedded';
  if (vectorStore.kind === 'qdrant' && !vectorStore.qdrantUrl) problems.push('QDRANT_URL is required when VECTOR_STORE=qdrant');

  const { embedding, llm, rerank } = config;
  if (embedding.provider !== 'offline' && !embedding.baseUrl)
    problems.push(`EMBEDDING_BASE_URL is required when EMBEDDING_PROVIDER=${embedding.provider}`);
  if (llm.provider !== 'offline' && !llm.baseUrl) problems.push(`LLM_BASE_URL is required when LLM_PROVIDER=${llm.provider}`);
  if (rerank.provider !== 'none' && !rerank.baseUrl) problems.push(`RERANK_BASE_URL is required when RERANK_PROVIDER=${rerank.provider}`);
  embedding.model ??= embedding.provider === 'offline' ? 'offline-hash-v2' : '';
  llm.model ??= llm.provider === 'offline' ? 'offline-extractive' : '';
  if (!embedding.model) problems.push('EMBEDDING_MODEL is required when EMBEDDING_PROVIDER is not offline');
  if (!llm.model) problems.push('LLM_MODEL is required when LLM_PROVIDER is not offline');

  if (config.metricsPort !== 0 && config.metricsPort === config.port) problems.push('METRICS_PORT must differ from PORT');
  if (problems.length > 0) throw new ConfigError(problems);
  if (config.parsing.threads === 0) config.parsing.threads = config.ingestionConcurrency;
  return config;
}
