import { beforeAll, describe, expect, it } from 'vitest';
import { CI_VALUES, findObject, fullname, type K8sObject, type RenderOptions, renderChart } from './chart';
import { KIND_SCHEMAS, kindKey, schemaErrors, unknownFieldErrors } from './kubernetes-schemas';

const SCENARIOS: Record<string, RenderOptions> = {
  'chart defaults': {},
  ...Object.fromEntries(CI_VALUES.map((file) => [file, { valuesFiles: [file] }])),
  'workers with everything on': {
    valuesFiles: ['redis-worker-values.yaml'],
    set: ['ingress.enabled=true', 'networkPolicy.enabled=true', 'api.autoscaling.enabled=true', 'image.digest=sha256:' + 'a'.repeat(64)],
  },
};

describe('every rendered manifest against the Kubernetes and Prometheus Operator API schemas (offline)', () => {
  const rendered: Record<string, K8sObject[]> = {};
  let distinct: K8sObject[];
  let misspeltProbe: K8sObject;
  let misspeltRule: K8sObject;
  let unknownFields: { object: K8sObject; message: string }[];

  beforeAll(() => {
    for (const [scenario, options] of Object.entries(SCENARIOS)) rendered[scenario] = renderChart(options);
    const byText = new Map(Object.values(rendered).flat().map((object) => [JSON.stringify(object), object]));
    distinct = [...byText.values()];

    // two deliberately broken copies, type-checked in the same (slow) compilation as the real ones
    misspeltProbe = structuredClone(findObject(rendered['chart defaults'], 'Deployment', `${fullname}-api`));
    const container = misspeltProbe.spec.template.spec.containers[0];
    container.readinesProbe = container.readinessProbe;
    misspeltRule = structuredClone(findObject(rendered['redis-worker-values.yaml'], 'PrometheusRule', fullname));
    misspeltRule.spec.groups[0].rules[0].experssion = 'up';
    unknownFields = unknownFieldErrors([...distinct, misspeltProbe, misspeltRule]);
  });

  it('the scenarios render every kind the chart has', () => {
    const kinds = new Set(distinct.map(kindKey));
    expect([...kinds].sort()).toEqual(Object.keys(KIND_SCHEMAS).sort());
  });

  it.each(Object.keys(SCENARIOS))('%s: types, required fields and enums', (scenario) => {
    expect(rendered[scenario].flatMap(schemaErrors)).toEqual([]);
  });

  it('no object has a field its API does not define', () => {
    const inRendered = unknownFields.filter(({ object }) => distinct.includes(object));
    expect(inRendered.map(({ object, message }) => `${kindKey(object)} ${object.metadata.name}: ${message}`)).toEqual([]);
  });

  it('the checks catch a wrong type, a missing field and a misspelt field', () => {
    const wrongType = structuredClone(findObject(rendered['chart defaults'], 'Deployment', `${fullname}-api`));
    wrongType.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(schemaErrors(wrongType).join()).toContain('containerPort must be integer');
    const monitor = structuredClone(findObject(rendered['redis-worker-values.yaml'], 'ServiceMonitor', fullname));
    delete monitor.spec.selector;
    expect(schemaErrors(monitor).join()).toContain('must have required property selector');

    expect(unknownFields.filter(({ object }) => object === misspeltProbe).map((e) => e.message).join()).toMatch(/'"readinesProbe"' does not exist in type 'IContainer'/);
    expect(unknownFields.filter(({ object }) => object === misspeltRule).map((e) => e.message).join()).toMatch(/'"experssion"' does not exist/);
  });
});
