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
    expect(loadConfig({ HYBRID_FUSION: 'rrf', HYBRID_OFFLINE_DENSE_WEIGHT: '0.02' }).retrieval.fusion).toMatchObject({ method: 'rrf', offlineDense: 0.02 });
    expect(() => loadConfig({ HYBRID_FUSION: 'linear' })).toThrow(/HYBRID_FUSION/);
  });

  it('limits each tenant to 32 concurrent and 10,000 pending ingestion jobs unless told otherwise (0 turns a limit off)', () => {
    expect(loadConfig({})).toMatchObject({ ingestionMaxConcurrentJobsPerTenant: 32, ingestionMaxPendingJobsPerTenant: 10_000 });
    expect(loadConfig({ INGESTION_MAX_CONCURRENT_JOBS_PER_TENANT: '2', INGESTION_MAX_PENDING_JOBS_PER_TENANT: '0' })).toMatchObject({ ingestionMaxConcurrentJobsPerTenant: 2, ingestionMaxPendingJobsPerTenant: 0 });
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
    const config = loadConfig({ DATABASE_URL: 'postgres://kb:pw@db:5432/kb', ADMIN_API_KEY: 'x'.repeat(20), QDRANT_URL: 'http://qdrant:6333' });
    expect(config.database.type).toBe('postgres');
    expect(config.vectorStore.kind).toBe('qdrant');
  });

  it('names every wrong or missing value at once', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', ROLE: 'boss', LLM_PROVIDER: 'openai', REDIS_URL: 'http://redis', ADMIN_API_KEY: 'short' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = error!.problems.join('\n');
    for (const name of ['PORT', 'DATABASE_URL', 'ROLE', 'LLM_BASE_URL', 'LLM_MODEL', 'REDIS_URL', 'ADMIN_API_KEY']) expect(text).toContain(name);
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
});
