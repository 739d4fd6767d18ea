import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureObservabilityTools, startAlertmanager, type RunningAlertmanager } from '../support/prometheus-server';
import { waitFor } from '../support/ports';
import { OBS, readYaml, run } from './helpers';

const AM_DIR = path.join(OBS, 'alertmanager');
const CONFIG = path.join(AM_DIR, 'alertmanager.yml');
const config = readYaml(CONFIG);
const cases = readYaml<Array<{ name: string; labels: Record<string, string>; receivers: string[] }>>(path.join(AM_DIR, 'routes.test.yml'));

beforeAll(() => ensureObservabilityTools(), 600_000);

describe('alertmanager.yml', () => {
  it('passes amtool check-config', async () => {
    const result = await run('amtool', ['check-config', CONFIG]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  });

  it.each(cases.map((c) => [c.name, c] as const))('routes: %s', async (_name, c) => {
    const labels = Object.entries(c.labels).map(([k, v]) => `${k}=${v}`);
    const result = await run('amtool', [
      'config',
      'routes',
      'test',
      `--config.file=${CONFIG}`,
      `--verify.receivers=${c.receivers.join(',')}`,
      ...labels,
    ]);
    expect(result.code, `${result.stdout}${result.stderr}`).toBe(0);
    expect(result.stdout.trim()).toBe(c.receivers.join(','));
  });

  it('a wrong expectation fails amtool (the route checks can fail)', async () => {
    const result = await run('amtool', [
      'config',
      'routes',
      'test',
      `--config.file=${CONFIG}`,
      '--verify.receivers=ai-team',
      'severity=critical',
      'team=platform',
    ]);
    expect(result.code).not.toBe(0);
  });

  it('keeps the guide receivers and routes: critical, ai-team, platform-team, default', () => {
    expect(config.receivers.map((r: { name: string }) => r.name).sort()).toEqual([
      'ai-team',
      'critical-alerts',
      'default',
      'platform-team',
    ]);
    expect(config.route.receiver).toBe('default');
    expect(config.route.group_by).toEqual(['alertname', 'severity']);
  });

  it('repeats reminders at the P0-P3 response times', () => {
    const critical = config.route.routes.find((r: any) => r.matchers?.[0] === 'severity="critical"');
    expect(critical).toMatchObject({ receiver: 'critical-alerts', continue: true, repeat_interval: '30m', group_wait: '10s' });
    for (const team of ['ai', 'platform']) {
      const route = config.route.routes.find((r: any) => r.matchers?.[0] === `team="${team}"`);
      const repeat = Object.fromEntries(route.routes.map((r: any) => [r.matchers[0], r.repeat_interval]));
      expect(repeat, team).toEqual({ 'severity=~"critical|high"': '1h', 'severity="medium"': '4h', 'severity="low"': '24h' });
    }
    expect(config.route.repeat_interval).toBe('24h');
  });

  it('reads every secret from a file, and the example secrets exist', () => {
    const text = fs.readFileSync(CONFIG, 'utf8');
    expect(text).not.toMatch(/^\s*(smtp_auth_password|api_url|slack_api_url|auth_password):/m);
    const files = [...text.matchAll(/_file:\s*'([^']+)'/g)].map((m) => m[1]);
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) {
      expect(file).toMatch(/^\/etc\/alertmanager\/secrets\//);
      expect(fs.existsSync(path.join(AM_DIR, 'secrets.example', path.basename(file))), file).toBe(true);
    }
  });
});

describe('alertmanager.yml inhibition, in a running Alertmanager', () => {
  let am: RunningAlertmanager;

  beforeAll(async () => {
    // The real routes and inhibit rules, with receivers that send nothing anywhere.
    const quiet = {
      ...config,
      global: { resolve_timeout: '5m' },
      receivers: config.receivers.map((r: { name: string }) => ({ name: r.name })),
    };
    am = await startAlertmanager({ config: stringify(quiet) });
  }, 60_000);
  afterAll(async () => {
    await am?.stop();
  });

  const alert = (labels: Record<string, string>) => ({ labels, annotations: { summary: labels.alertname } });

  it('a fast availability burn mutes the slower tiers and HighErrorRate of the same job, not of another', async () => {
    await am.postAlerts([
      alert({
        alertname: 'SLOAvailabilityBurnRate1h',
        severity: 'critical',
        team: 'platform',
        job: 'rag-pipeline-api',
        slo: 'availability',
      }),
      alert({ alertname: 'SLOAvailabilityBurnRate6h', severity: 'high', team: 'platform', job: 'rag-pipeline-api', slo: 'availability' }),
      alert({ alertname: 'HighErrorRate', severity: 'high', team: 'platform', job: 'rag-pipeline-api' }),
      alert({ alertname: 'HighErrorRate', severity: 'high', team: 'platform', job: 'other-api' }),
      alert({ alertname: 'LLMCallFailureRate', severity: 'high', team: 'ai', job: 'rag-pipeline-api', provider: 'openai', model: 'm' }),
    ]);
    const state = async () => {
      const all = await am.alerts();
      return Object.fromEntries(all.map((a) => [`${a.labels.alertname}/${a.labels.job}`, a.status.state]));
    };
    await waitFor(async () => (await state())['SLOAvailabilityBurnRate6h/rag-pipeline-api'] === 'suppressed', 10_000, 'inhibition');
    expect(await state()).toEqual({
      'SLOAvailabilityBurnRate1h/rag-pipeline-api': 'active',
      'SLOAvailabilityBurnRate6h/rag-pipeline-api': 'suppressed',
      'HighErrorRate/rag-pipeline-api': 'suppressed',
      'HighErrorRate/other-api': 'active',
      'LLMCallFailureRate/rag-pipeline-api': 'active',
    });
  });

  it('a critical alert mutes lower severities of the same alert and instance', async () => {
    await am.postAlerts([
      alert({ alertname: 'DiskFilling', severity: 'critical', team: 'infrastructure', instance: 'node-a' }),
      alert({ alertname: 'DiskFilling', severity: 'medium', team: 'infrastructure', instance: 'node-a' }),
      alert({ alertname: 'DiskFilling', severity: 'medium', team: 'infrastructure', instance: 'node-b' }),
    ]);
    const state = async () =>
      Object.fromEntries(
        (await am.alerts())
          .filter((a) => a.labels.alertname === 'DiskFilling')
          .map((a) => [`${a.labels.severity}/${a.labels.instance}`, a.status.state]),
      );
    await waitFor(async () => (await state())['medium/node-a'] === 'suppressed', 10_000, 'inhibition');
    expect(await state()).toEqual({ 'critical/node-a': 'active', 'medium/node-a': 'suppressed', 'medium/node-b': 'active' });
  });
});
