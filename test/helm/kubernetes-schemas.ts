import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { type K8sObject, REPO_ROOT } from './chart';

interface Model {
  validate(): void;
}

interface KindSchema {
  /** the generated model, whose validate() checks the object against the API's OpenAPI schema */
  model: new (data: any) => Model;
  /** module and interface of the same schema as TypeScript types, for the unknown-field check */
  typeModule: string;
  typeName: string;
}

const k8s = (group: string, kind: string) => `kubernetes-models/${group}/${kind}`;
const operator = (kind: string) => `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`;

/** Every apiVersion/kind the chart renders. An unknown kind fails the validation. */
export const KIND_SCHEMAS: Record<string, KindSchema> = {
  'v1/ConfigMap': { model: ConfigMap, typeModule: 'kubernetes-models/v1/ConfigMap', typeName: 'IConfigMap' },
  'v1/Secret': { model: Secret, typeModule: 'kubernetes-models/v1/Secret', typeName: 'ISecret' },
  'v1/Service': { model: Service, typeModule: 'kubernetes-models/v1/Service', typeName: 'IService' },
  'v1/ServiceAccount': { model: ServiceAccount, typeModule: 'kubernetes-models/v1/ServiceAccount', typeName: 'IServiceAccount' },
  'v1/PersistentVolumeClaim': { model: PersistentVolumeClaim, typeModule: 'kubernetes-models/v1/PersistentVolumeClaim', typeName: 'IPersistentVolumeClaim' },
  'apps/v1/Deployment': { model: Deployment, typeModule: k8s('apps/v1', 'Deployment'), typeName: 'IDeployment' },
  'batch/v1/Job': { model: Job, typeModule: k8s('batch/v1', 'Job'), typeName: 'IJob' },
  'autoscaling/v2/HorizontalPodAutoscaler': { model: HorizontalPodAutoscaler, typeModule: k8s('autoscaling/v2', 'HorizontalPodAutoscaler'), typeName: 'IHorizontalPodAutoscaler' },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, typeModule: k8s('policy/v1', 'PodDisruptionBudget'), typeName: 'IPodDisruptionBudget' },
  'networking.k8s.io/v1/Ingress': { model: Ingress, typeModule: k8s('networking.k8s.io/v1', 'Ingress'), typeName: 'IIngress' },
  'networking.k8s.io/v1/NetworkPolicy': { model: NetworkPolicy, typeModule: k8s('networking.k8s.io/v1', 'NetworkPolicy'), typeName: 'INetworkPolicy' },
  'monitoring.coreos.com/v1/ServiceMonitor': { model: ServiceMonitor, typeModule: operator('ServiceMonitor'), typeName: 'IServiceMonitor' },
  'monitoring.coreos.com/v1/PrometheusRule': { model: PrometheusRule, typeModule: operator('PrometheusRule'), typeName: 'IPrometheusRule' },
};

export const kindKey = (object: K8sObject) => `${object.apiVersion}/${object.kind}`;

/** Schema problems of one object (types, required fields, enums, formats), as messages. */
export function schemaErrors(object: K8sObject): string[] {
  const schema = KIND_SCHEMAS[kindKey(object)];
  if (!schema) return [`no schema for ${kindKey(object)}`];
  try {
    new schema.model(object).validate();
    return [];
  } catch (error) {
    return [`${kindKey(object)} ${object.metadata.name}: ${(error as Error).message}`];
  }
}

/**
 * The OpenAPI schemas do not forbid unknown fields (the API server prunes or, with strict field
 * validation, rejects them), so a misspelt field would pass validate(). Type-checking each object
 * as a literal of the API's generated TypeScript interface catches it: excess properties are errors.
 */
export function unknownFieldErrors(objects: K8sObject[]): { object: K8sObject; message: string }[] {
  const scratchRoot = path.join(REPO_ROOT, '.tools');
  mkdirSync(scratchRoot, { recursive: true });
  const scratch = mkdtempSync(path.join(scratchRoot, 'k8s-typecheck-'));
  try {
    const imports = new Map<string, string>();
    const declarations = objects.map((object, index) => {
      const schema = KIND_SCHEMAS[kindKey(object)];
      if (!schema) throw new Error(`no schema for ${kindKey(object)}`);
      imports.set(schema.typeName, schema.typeModule);
      return `// manifest ${index}\nexport const manifest${index}: ${schema.typeName} = ${JSON.stringify(object, null, 2)};`;
    });
    const source = [...[...imports].map(([name, module]) => `import type { ${name} } from '${module}';`), ...declarations].join('\n');
    const file = path.join(scratch, 'manifests.ts');
    writeFileSync(file, source);
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      target: ts.ScriptTarget.ES2022,
    });
    const sourceFile = program.getSourceFile(file)!;
    const lines = source.split('\n');
    return [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)].map((diagnostic) => {
      const { line } = sourceFile.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      const owner = lines
        .slice(0, line + 1)
        .reverse()
        .find((text) => text.startsWith('// manifest '));
      const object = objects[Number(owner?.slice('// manifest '.length))];
      return { object, message: ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ') };
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
