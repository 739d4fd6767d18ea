import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/app-config';

describe('configuration', () => {
  it('defaults to the embedded mode on port 8020 with SQLite under DATA_DIR', () => {
    const config = loadConfig({ DATA_DIR: '/srv/data' });
    expect(config.port).toBe(8020);
    expect(config.database).toMatchObject({ type: 'sqlite', url: '/srv/data/self-rag.sqlite' });
    expect(config.vectorStore.kind).toBe('embedded');
    expect(config.embedding.provider).toBe('offline');
    expect(config.llm.provider).toBe('offline');
  });

  it('defaults to the offline-hash-v2 embedder and to convex fusion for offline knowledge bases', () => {
    const config = loadConfig({});
    expect(config.embedding.model).toBe('offline-hash-v2');
    expect(config.retrieval.fusion).toEqual({ method: 'auto', dense: 1, offlineDense: 0.5, sparse: 1, k: 60 });
    expect(loadConfig({ HYBRID_FUSION: 'rrf', HYBRID_OFFLINE_DENSE_WEIGHT: '0.02' }).retrieval.fusion).toMatchObject({
      method: 'rrf',
      offlineDense: 0.02,
    });
    expect(() => loadConfig({ HYBRID_FUSION: 'linear' })).toThrow(/HYBRID_FUSION/);
  });

  it('limits each tenant to 32 concurrent and 10,000 pending ingestion jobs unless told otherwise (0 turns a limit off)', () => {
    expect(loadConfig({})).toMatchObject({ ingestionMaxConcurrentJobsPerTenant: 32, ingestionMaxPendingJobsPerTenant: 10_000 });
    expect(loadConfig({ INGESTION_MAX_CONCURRENT_JOBS_PER_TENANT: '2', INGESTION_MAX_PENDING_JOBS_PER_TENANT: '0' })).toMatchObject({
      ingestionMaxConcurrentJobsPerTenant: 2,
      ingestionMaxPendingJobsPerTenant: 0,
    });
    expect(() => loadConfig({ INGESTION_MAX_CONCURRENT_JOBS_PER_TENANT: '-1' })).toThrow(/INGESTION_MAX_CONCURRENT_JOBS_PER_TENANT/);
    expect(() => loadConfig({ INGESTION_MAX_PENDING_JOBS_PER_TENANT: 'many' })).toThrow(/INGESTION_MAX_PENDING_JOBS_PER_TENANT/);
  });

  it('serves /metrics on METRICS_PORT 9464 by default, never on the API port', () => {
    expect(loadConfig({}).metricsPort).toBe(9464);
    expect(loadConfig({ METRICS_PORT: '0', PORT: '0' }).metricsPort).toBe(0);
    expect(() => loadConfig({ METRICS_PORT: '8020' })).toThrow(/METRICS_PORT must differ from PORT/);
    expect(() => loadConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
  });

  it('allows 100 knowledge bases a tenant unless told otherwise', () => {
    expect(loadConfig({}).tenantMaxKnowledgeBases).toBe(100);
    expect(loadConfig({ TENANT_MAX_KNOWLEDGE_BASES: '3' }).tenantMaxKnowledgeBases).toBe(3);
    expect(() => loadConfig({ TENANT_MAX_KNOWLEDGE_BASES: '0' })).toThrow(/TENANT_MAX_KNOWLEDGE_BASES/);
  });

  it('sweeps orphans every 10 minutes unless told otherwise (0 = at start-up only)', () => {
    expect(loadConfig({}).orphanSweepIntervalMs).toBe(600_000);
    expect(loadConfig({ ORPHAN_SWEEP_INTERVAL_MS: '0' }).orphanSweepIntervalMs).toBe(0);
    expect(() => loadConfig({ ORPHAN_SWEEP_INTERVAL_MS: '-5' })).toThrow(/ORPHAN_SWEEP_INTERVAL_MS/);
    expect(() => loadConfig({ ORPHAN_SWEEP_INTERVAL_MS: 'hourly' })).toThrow(/ORPHAN_SWEEP_INTERVAL_MS/);
  });

  it('switches to PostgreSQL and Qdrant by URL', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://kb:pw@db:5432/kb',
      ADMIN_API_KEY: 'x'.repeat(20),
      QDRANT_URL: 'http://qdrant:6333',
    });
    expect(config.database.type).toBe('postgres');
    expect(config.vectorStore.kind).toBe('qdrant');
  });

  it('names every wrong or missing value at once', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://x',
        ROLE: 'boss',
        LLM_PROVIDER: 'openai',
        REDIS_URL: 'http://redis',
        ADMIN_API_KEY: 'short',
      });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = error!.problems.join('\n');
    for (const name of ['PORT', 'DATABASE_URL', 'ROLE', 'LLM_BASE_URL', 'LLM_MODEL', 'REDIS_URL', 'ADMIN_API_KEY'])
      expect(text).toContain(name);
  });

  it('requires an admin key with PostgreSQL, so replicas share it', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://kb@db/kb' })).toThrow(/ADMIN_API_KEY is required/);
  });

  it('never echoes a database password in its messages', () => {
    try {
      loadConfig({ DATABASE_URL: 'mysql://kb:supersecret@db/kb' });
    } catch (e) {
      expect((e as Error).message).not.toContain('supersecret');
    }
  });

  it('reads each kind of value as before the schema: trimmed text, URLs, lists, flags, optional numbers', () => {
    const config = loadConfig({
      EMBEDDING_PROVIDER: 'openai',
      EMBEDDING_MODEL: ' text-embedding-3-small ',
      EMBEDDING_BASE_URL: 'http://embed:8080/v1//',
      QDRANT_URL: 'http://qdrant:6333/',
      CORS_ORIGINS: ' https://a.example, ,https://b.example ',
      EMBEDDED_THREADS: 'false',
      OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: ' TRUE ',
      INGESTION_CONCURRENCY: '6',
      TENANT_MAX_DOCUMENTS: '0',
      HOST: '   ',
    });
    expect(config.embedding).toMatchObject({ model: 'text-embedding-3-small', baseUrl: 'http://embed:8080/v1' });
    // QDRANT_URL is handed to the client as given
    expect(config.vectorStore).toMatchObject({ kind: 'qdrant', qdrantUrl: 'http://qdrant:6333/' });
    expect(config.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.embeddedThreads).toBe(false);
    expect(config.captureMessageContent).toBe(true);
    expect(config.parsing.threads).toBe(6);
    expect(config.tenantMaxDocuments).toBe(0);
    expect(config.host).toBe('0.0.0.0');
    expect(loadConfig({}).tenantMaxDocuments).toBeUndefined();
    expect(loadConfig({ PARSE_THREADS: '3' }).parsing.threads).toBe(3);
  });

  it("quotes the value it refused, trimmed, and names the variable's range or choices", () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (e) {
        return (e as ConfigError).problems;
      }
    };
    expect(problems({ PORT: ' 1e3 ' })).toEqual(["PORT must be an integer between 0 and 65535 (got '1e3')"]);
    expect(problems({ HYBRID_DENSE_WEIGHT: '.5' })).toEqual(["HYBRID_DENSE_WEIGHT must be a number between 0 and 10 (got '.5')"]);
    expect(problems({ EMBEDDED_THREADS: 'TRUE' })).toEqual(["EMBEDDED_THREADS must be one of true, false (got 'TRUE')"]);
    expect(problems({ LOG_LEVEL: 'trace' })).toEqual([
      "LOG_LEVEL must be one of error, warn, info, http, verbose, debug, silly (got 'trace')",
    ]);
    expect(problems({ RERANK_BASE_URL: 'ftp://r' })).toEqual(["RERANK_BASE_URL must be an http(s) URL (got 'ftp://r')"]);
    // a refused provider counts as the default, so it asks for no base URL or model on top
    expect(problems({ EMBEDDING_PROVIDER: 'bogus' })).toEqual(["EMBEDDING_PROVIDER must be one of offline, openai, ollama (got 'bogus')"]);
    // a short admin key is still a key: PostgreSQL's "required" is not added
    expect(problems({ DATABASE_URL: 'postgres://db/kb', ADMIN_API_KEY: 'short' })).toEqual([
      'ADMIN_API_KEY must be at least 16 characters long',
    ]);
  });
});
