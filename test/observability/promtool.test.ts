import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureObservabilityTools } from '../support/prometheus-server';
import { ALERT_RULES, PROM_DIR, RECORDING_RULES, alertRules, readYaml, recordingRules, run } from './helpers';

const TEST_DIR = path.join(PROM_DIR, 'tests');
const testFiles = fs
  .readdirSync(TEST_DIR)
  .filter((f) => f.endsWith('.test.yml'))
  .sort();

interface PromtoolTests {
  rule_files: string[];
  tests: Array<{
    alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }>;
    promql_expr_test?: Array<{ expr: string; exp_samples: Array<{ labels?: string }> }>;
  }>;
}
const suites = testFiles.map((f) => ({ file: f, doc: readYaml<PromtoolTests>(path.join(TEST_DIR, f)) }));

beforeAll(() => ensureObservabilityTools(), 600_000);

describe('promtool', () => {
  it('check config accepts prometheus.yml and the rule files it names', async () => {
    const result = await run('promtool', ['check', 'config', 'prometheus.yml'], { cwd: PROM_DIR });
    expect(result.stderr + result.stdout).toContain('SUCCESS: 2 rule files found');
    expect(result.code, result.stderr + result.stdout).toBe(0);
  });

  it('check rules accepts the alert and recording rules (no duplicate rules)', async () => {
    const result = await run('promtool', ['check', 'rules', '--lint=all', '--lint-fatal', ALERT_RULES, RECORDING_RULES]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stdout).toContain(`SUCCESS: ${alertRules().length} rules found`);
    expect(result.stdout).toContain(`SUCCESS: ${recordingRules().length} rules found`);
  });

  it('check rules rejects a broken rule file (the check can fail)', async () => {
    const broken = path.join(fs.mkdtempSync('/tmp/selfrag-rules-'), 'broken.yml');
    fs.writeFileSync(broken, 'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(http_requests_total[5m])\n');
    const result = await run('promtool', ['check', 'rules', broken]);
    fs.rmSync(path.dirname(broken), { recursive: true });
    expect(result.code).not.toBe(0);
  });

  // Each file runs in its own promtool process, concurrently: promtool spends most of its time
  // waiting, not computing.
  it.concurrent.each(testFiles)(
    'test rules %s',
    async (file) => {
      const result = await run('promtool', ['test', 'rules', file], { cwd: TEST_DIR, timeoutMs: 170_000 });
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toContain('SUCCESS');
    },
    180_000,
  );
});

describe('promtool unit-test coverage', () => {
  it('the tests load the canonical rule files', () => {
    for (const { file, doc } of suites) {
      for (const ruleFile of doc.rule_files) {
        expect([ALERT_RULES, RECORDING_RULES], file).toContain(path.resolve(TEST_DIR, ruleFile));
      }
    }
  });

  it('every alert has a case where it fires and a case where it does not', () => {
    const firing = new Set<string>();
    const silent = new Set<string>();
    for (const { doc } of suites) {
      for (const test of doc.tests) {
        for (const c of test.alert_rule_test ?? []) (c.exp_alerts.length > 0 ? firing : silent).add(c.alertname);
      }
    }
    const alerts = alertRules().map((r) => r.alert!);
    expect(
      alerts.filter((a) => !firing.has(a)),
      'alerts never tested firing',
    ).toEqual([]);
    expect(
      alerts.filter((a) => !silent.has(a)),
      'alerts never tested silent',
    ).toEqual([]);
  });

  it('every recording rule (name and labels) is asserted by a promql_expr_test', () => {
    const asserted: Array<{ expr: string; labels: string[] }> = [];
    for (const { doc } of suites) {
      for (const test of doc.tests) {
        for (const c of test.promql_expr_test ?? []) asserted.push({ expr: c.expr, labels: c.exp_samples.map((s) => s.labels ?? '') });
      }
    }
    const untested = recordingRules().filter(
      (rule) =>
        !asserted.some(({ expr, labels }) => {
          if (!new RegExp(`(^|[^a-z_:])${rule.record!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^a-z0-9_:])`).test(expr)) return false;
          const wanted = Object.entries(rule.labels ?? {}).map(([k, v]) => `${k}="${v}"`);
          return labels.some((l) => wanted.every((w) => l.includes(w)));
        }),
    );
    expect(untested.map((r) => `${r.record} ${JSON.stringify(r.labels ?? {})}`)).toEqual([]);
  });
});
