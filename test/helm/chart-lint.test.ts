import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART_DIR, CI_VALUES, renderError, runHelm } from './chart';

describe('helm lint --strict', () => {
  it('ci/ holds the embedded, Postgres+Qdrant and Redis-worker variants', () => {
    expect(readdirSync(path.join(CHART_DIR, 'ci')).sort()).toEqual([...CI_VALUES].sort());
  });

  it.each(['(chart defaults)', ...CI_VALUES])('passes with %s', (valuesFile) => {
    const args = ['lint', '--strict', CHART_DIR];
    if (valuesFile.endsWith('.yaml')) args.push('--values', path.join(CHART_DIR, 'ci', valuesFile));
    const result = runHelm(args);
    expect(result.stderr + result.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(result.status).toBe(0);
  });
});

describe('NOTES.txt', () => {
  it.each([
    ['embedded-values.yaml', 'cat /data/admin-api-key'],
    ['postgres-qdrant-values.yaml', "jsonpath='{.data.ADMIN_API_KEY}'"],
    ['redis-worker-values.yaml', 'ingestion workers in Deployment rag-self-rag-pipeline-worker (autoscaled 2-8)'],
  ])('renders for %s (helm install --dry-run=client)', (valuesFile, expected) => {
    const result = runHelm(['install', 'rag', CHART_DIR, '--dry-run=client', '--namespace', 'knowledge', '--values', path.join(CHART_DIR, 'ci', valuesFile)]);
    expect(result.stderr).toBe('');
    expect(result.stdout.slice(result.stdout.indexOf('NOTES:'))).toContain(expected);
  });
});

describe('values.schema.json', () => {
  it('declares every key: each object it describes forbids keys it does not list', () => {
    const schema = JSON.parse(readFileSync(path.join(CHART_DIR, 'values.schema.json'), 'utf8'));
    const open: string[] = [];
    const walk = (node: unknown, at: string) => {
      if (node === null || typeof node !== 'object') return;
      const record = node as Record<string, unknown>;
      if (record.properties && record.additionalProperties !== false) open.push(at);
      for (const [key, child] of Object.entries(record)) walk(child, `${at}/${key}`);
    };
    walk(schema, '#');
    expect(open).toEqual([]);
  });

  it('rejects a value of the wrong type', () => {
    expect(renderError({ set: ['containerPort=http'] })).toMatch(/containerPort.*want integer/);
    expect(renderError({ set: ['api.autoscaling.enabled=yes'] })).toMatch(/autoscaling\/enabled.*want boolean/);
  });

  it('rejects a value outside its allowed set', () => {
    expect(renderError({ set: ['config.logLevel=loud'] })).toMatch(/logLevel.*must be one of/);
    expect(renderError({ set: ['database.type=mysql'] })).toMatch(/database\/type/);
  });

  it('rejects a misspelt key instead of ignoring it', () => {
    expect(renderError({ set: ['api.replicaCuont=3'] })).toMatch(/replicaCuont/);
  });

  it('rejects a short admin key and a non-Postgres database URL', () => {
    expect(renderError({ set: ['secrets.adminApiKey=short'] })).toMatch(/adminApiKey/);
    expect(renderError({ set: ['secrets.databaseUrl=mysql://x'] })).toMatch(/databaseUrl/);
  });
});

describe('template guards', () => {
  it('refuses several API replicas on the embedded stores', () => {
    expect(renderError({ set: ['api.replicaCount=2'] })).toContain('keep api.replicaCount 1');
  });

  it('refuses ingestion workers without the shared stores', () => {
    expect(renderError({ set: ['redis.enabled=true', 'secrets.redisUrl=redis://redis:6379'] })).toContain('ingestion workers need the shared stores');
  });

  it('refuses Postgres without a database URL or admin key', () => {
    expect(renderError({ set: ['database.type=postgres'] })).toContain('needs secrets.databaseUrl');
    expect(renderError({ set: ['database.type=postgres', 'secrets.databaseUrl=postgres://kb:pw@db:5432/kb'] })).toContain('needs secrets.adminApiKey');
  });

  it('refuses a grace period shorter than the preStop sleep plus the drain', () => {
    expect(renderError({ set: ['terminationGracePeriodSeconds=12'] })).toContain('must exceed preStopSleepSeconds + config.shutdownTimeoutMs (15 s)');
  });
});
