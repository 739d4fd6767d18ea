import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../support/ports';
import { SERVICE_NODE_ARGS } from '../support/service-process';
import { startPostgres, type PostgresServer } from '../support/postgres-server';
import {
  startAlertmanager,
  startPrometheus,
  type AlertmanagerAlert,
  type RunningAlertmanager,
  type RunningPrometheus,
} from '../support/prometheus-server';
import { ALERT_RULES, RECORDING_RULES, ROOT } from './helpers';

/**
 * The alerting path end to end with the real binaries: the running service, scraped by a
 * private Prometheus that loads the canonical rules, notifying a private Alertmanager. The
 * test stops the service's Postgres, so /v1/* requests answer 503, and waits until
 * HighErrorRate (or the fast availability burn) is active at Alertmanager.
 *
 * Kept short by a test configuration: 1 s scrape and evaluation intervals, and every alert's
 * `for` cut to 5 s. The expressions are the canonical ones, unchanged.
 */

const MAIN = path.join(ROOT, 'dist', 'main.js');
const built = fs.existsSync(MAIN);
const title = built
  ? 'alerting end to end: a failing service fires HighErrorRate at Alertmanager'
  : 'alerting end to end (SKIPPED: dist/main.js is missing; run `npm run build` first)';

/** The canonical alert rules with every `for` shortened, for a test that runs in a minute. */
function fastAlertRules(): string {
  const doc = parse(fs.readFileSync(ALERT_RULES, 'utf8')) as { groups: Array<{ rules: Array<{ for?: string }> }> };
  for (const group of doc.groups) for (const rule of group.rules) if (rule.for) rule.for = '5s';
  return stringify(doc);
}

describe.skipIf(!built)(title, () => {
  let postgres: PostgresServer;
  let alertmanager: RunningAlertmanager;
  let prometheus: RunningPrometheus;
  let service: ChildProcess | undefined;
  let serviceLog = '';
  let baseUrl = '';
  let dataDir = '';
  const adminKey = `admin-${randomBytes(24).toString('hex')}`;
  const outcomes = new Map<number, number>();
  let trafficOn = false;
  let traffic: Promise<void> | undefined;

  async function startService(databaseUrl: string, port: number, metricsPort: number): Promise<void> {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfrag-e2e-data-'));
    baseUrl = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, [...SERVICE_NODE_ARGS], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TMPDIR: os.tmpdir(),
        NODE_ENV: 'production',
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        DATABASE_URL: databaseUrl,
        ADMIN_API_KEY: adminKey,
        LOG_LEVEL: 'warn',
        OTEL_SERVICE_NAME: 'self-rag-pipeline',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    service = child;
    const append = (chunk: Buffer) => {
      serviceLog = (serviceLog + chunk.toString()).slice(-50_000);
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`the service exited with ${code}:\n${serviceLog}`))),
    );
    exited.catch(() => {});
    await Promise.race([waitFor(async () => (await fetch(`${baseUrl}/health`)).ok, 90_000, `the service on ${baseUrl}`), exited]);
  }

  /** Four clients calling an authenticated, database-backed /v1 route, until stopped. */
  function startTraffic(): void {
    trafficOn = true;
    const client = async () => {
      while (trafficOn) {
        try {
          const response = await fetch(`${baseUrl}/v1/tenants`, {
            headers: { authorization: `Bearer ${adminKey}` },
            signal: AbortSignal.timeout(5_000),
          });
          await response.arrayBuffer();
          outcomes.set(response.status, (outcomes.get(response.status) ?? 0) + 1);
        } catch {
          outcomes.set(0, (outcomes.get(0) ?? 0) + 1);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    traffic = Promise.all([client(), client(), client(), client()]).then(() => {});
  }

  beforeAll(async () => {
    const servicePort = await freePort();
    const metricsPort = await freePort();
    [postgres, alertmanager] = await Promise.all([
      startPostgres(),
      startAlertmanager({
        config: {
          route: { receiver: 'test', group_by: ['alertname'], group_wait: '1s', group_interval: '1s', repeat_interval: '1h' },
          receivers: [{ name: 'test' }],
        },
      }),
    ]);
    [, prometheus] = await Promise.all([
      startService(postgres.url, servicePort, metricsPort),
      startPrometheus({
        config: {
          global: { scrape_interval: '1s', evaluation_interval: '1s' },
          rule_files: ['alert_rules.yml', 'recording_rules.yml'],
          scrape_configs: [
            { job_name: 'rag-pipeline-api', metrics_path: '/metrics', static_configs: [{ targets: [`127.0.0.1:${metricsPort}`] }] },
          ],
          alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(alertmanager.url).host] }] }] },
        },
        rules: { 'alert_rules.yml': fastAlertRules(), 'recording_rules.yml': fs.readFileSync(RECORDING_RULES, 'utf8') },
      }),
    ]);
  }, 180_000);

  afterAll(async () => {
    trafficOn = false;
    await traffic;
    if (service && service.exitCode === null) {
      const exited = new Promise((resolve) => service!.once('exit', resolve));
      service.kill('SIGTERM');
      const timer = setTimeout(() => service!.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    await prometheus?.stop();
    await alertmanager?.stop();
    await postgres?.stop();
  }, 60_000);

  it('serves healthy traffic first: scraped, 2xx, and no error alert', async () => {
    startTraffic();
    await waitFor(
      async () =>
        (await prometheus.query('sum(http_requests_total{job="rag-pipeline-api", endpoint="/v1/tenants", status_code=~"2.."})')).length > 0,
      30_000,
      `Prometheus to scrape 2xx answers of /v1/tenants (outcomes so far ${JSON.stringify([...outcomes])}; service log:\n${serviceLog})`,
    );
    const firing = (await alertmanager.alerts()).filter((a) => a.labels.alertname === 'HighErrorRate');
    expect(firing).toEqual([]);
  }, 60_000);

  it('fires HighErrorRate (or the fast availability burn) at Alertmanager once Postgres is down', async () => {
    await postgres.pause();
    let alert: AlertmanagerAlert | undefined;
    await waitFor(
      async () => {
        alert = (await alertmanager.alerts()).find(
          (a) =>
            a.status.state === 'active' &&
            ['HighErrorRate', 'SLOAvailabilityBurnRate1h'].includes(a.labels.alertname) &&
            a.labels.job === 'rag-pipeline-api',
        );
        return alert !== undefined;
      },
      75_000,
      `an error-rate alert at Alertmanager (outcomes ${JSON.stringify([...outcomes])}; service log:\n${serviceLog.slice(-5_000)})`,
    );
    // the failures were 5xx answers of the route template, as the rules expect
    const failed = await prometheus.query('sum by (endpoint) (http_requests_total{job="rag-pipeline-api", status_code=~"5.."})');
    expect(failed.map((s) => s.metric.endpoint)).toContain('/v1/tenants');
    expect(alert!.labels).toMatchObject({ team: 'platform' });
    expect(['high', 'critical']).toContain(alert!.labels.severity);
    expect(alert!.annotations.runbook_url).toBe(`observability/runbooks/${alert!.labels.alertname}.md`);
    expect(alert!.annotations.description).toMatch(/API requests/);
  }, 90_000);
});
