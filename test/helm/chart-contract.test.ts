import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CHART_DIR, CI_VALUES, fullname, renderChart, REPO_ROOT } from './chart';

/** Variables the OpenTelemetry SDK reads itself, and the downward-API helpers OTEL_RESOURCE_ATTRIBUTES expands. */
const READ_OUTSIDE_THE_CONFIG_MODULE = /^(OTEL_|K8S_)/;

describe('the chart and the service agree', () => {
  it('every variable the chart sets is one the config module reads', () => {
    const configSource = readFileSync(path.join(REPO_ROOT, 'src', 'config', 'app-config.ts'), 'utf8');
    for (const file of CI_VALUES) {
      const objects = renderChart({ valuesFiles: [file] });
      const names = new Set<string>();
      for (const deployment of objects.filter((object) => object.kind === 'Deployment' || object.kind === 'Job')) {
        for (const entry of deployment.spec.template.spec.containers[0].env) names.add(entry.name);
      }
      const configMap = objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === fullname)!;
      for (const name of Object.keys(configMap.data!)) names.add(name);
      const unread = [...names].filter((name) => !READ_OUTSIDE_THE_CONFIG_MODULE.test(name) && !configSource.includes(`'${name}'`));
      expect(unread, file).toEqual([]);
    }
  });
});

/** Leaf paths of a values tree: `api.autoscaling.enabled`; maps and lists count as leaves. */
function leafPaths(tree: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([key, value]) => {
    const here = prefix + key;
    const isBranch = value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0 && !MAP_VALUES.has(here);
    return isBranch ? leafPaths(value as Record<string, unknown>, `${here}.`) : [here];
  });
}

/** values that are free-form maps passed through to Kubernetes, documented as one row */
const MAP_VALUES = new Set(['api.resources', 'worker.resources', 'migrations.resources', 'podSecurityContext', 'securityContext', 'networkPolicy.metricsNamespaceSelector']);

describe('chart README', () => {
  it('documents every value of values.yaml in its values table, and nothing else', () => {
    const values = parse(readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8'));
    const readme = readFileSync(path.join(CHART_DIR, 'README.md'), 'utf8');
    const documented = [...readme.matchAll(/^\| `([A-Za-z0-9_.]+)` \|/gm)].map((match) => match[1]);
    expect(documented.sort()).toEqual(leafPaths(values).sort());
  });
});
