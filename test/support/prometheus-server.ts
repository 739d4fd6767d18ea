import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { freePort, waitFor } from './ports';

/**
 * Private Prometheus and Alertmanager servers for tests: Debian's binaries (packages
 * `prometheus` and `prometheus-alertmanager`, installed by scripts/observability/install-tools.sh),
 * each on a random loopback port with its config and storage in a temp dir, stopped and
 * removed by stop().
 */

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const INSTALL_SCRIPT = path.join(REPO_ROOT, 'scripts', 'observability', 'install-tools.sh');

export interface RunningServer {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** the temp dir holding config and storage (removed by stop) */
  dir: string;
  /** what the process printed so far (for failure messages) */
  logs(): string;
  stop(): Promise<void>;
}

export interface RunningPrometheus extends RunningServer {
  /** an instant query; throws with Prometheus' error text when it does not parse or fails */
  query(expr: string, time?: Date): Promise<PromSample[]>;
  /** the rules as Prometheus loaded them (GET /api/v1/rules) */
  rules(): Promise<RuleGroupStatus[]>;
}

export interface RunningAlertmanager extends RunningServer {
  /** GET /api/v2/alerts: every alert Alertmanager holds, with its status */
  alerts(): Promise<AlertmanagerAlert[]>;
  /** POST /api/v2/alerts */
  postAlerts(alerts: PostableAlert[]): Promise<void>;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RuleGroupStatus {
  name: string;
  file: string;
  rules: Array<{ name: string; type: 'alerting' | 'recording'; health: string; lastError?: string; state?: string }>;
}

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: { state: 'active' | 'suppressed' | 'unprocessed'; inhibitedBy: string[]; silencedBy: string[] };
  receivers: Array<{ name: string }>;
  startsAt: string;
}

export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
}

export interface PrometheusOptions {
  /** prometheus.yml: YAML text or an object (serialised to YAML). */
  config: string | Record<string, unknown>;
  /**
   * Rule files put next to the config: paths (copied under their base name) or a map of file
   * name to content. With an object config and no rule_files in it, rule_files lists them.
   */
  rules?: string[] | Record<string, string>;
  /** extra command-line flags */
  args?: string[];
}

export interface AlertmanagerOptions {
  /** alertmanager.yml: YAML text or an object (serialised to YAML). */
  config: string | Record<string, unknown>;
  /** extra files put next to the config (templates, secrets): file name to content */
  files?: Record<string, string>;
  args?: string[];
}

let toolsChecked = false;

/** Installs the binaries when missing (idempotent; a no-op when they are there). */
export function ensureObservabilityTools(): void {
  if (toolsChecked) return;
  const missing = ['prometheus', 'promtool', 'amtool'].filter((b) => !which(b));
  if (missing.length > 0 || !alertmanagerBinary(false)) {
    const result = spawnSync('bash', [INSTALL_SCRIPT], { encoding: 'utf8', timeout: 600_000 });
    if (result.status !== 0) {
      throw new Error(`could not install prometheus/alertmanager (${INSTALL_SCRIPT}): ${result.stderr || result.stdout}`);
    }
  }
  toolsChecked = true;
}

/** Path of a binary on PATH, or undefined. */
export function which(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, binary);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function alertmanagerBinary(required = true): string | undefined {
  // Debian calls it prometheus-alertmanager; upstream tarballs call it alertmanager.
  const found = which('prometheus-alertmanager') ?? which('alertmanager');
  if (!found && required) throw new Error('alertmanager binary not found (apt-get install prometheus-alertmanager)');
  return found;
}

function toYaml(config: string | Record<string, unknown>): string {
  return typeof config === 'string' ? config : stringify(config);
}

/** Starts a private Prometheus; resolves when /-/ready answers. */
export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  ensureObservabilityTools();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfrag-prom-'));
  const ruleNames = writeRules(dir, options.rules);
  let config = options.config;
  if (typeof config !== 'string' && ruleNames.length > 0 && !('rule_files' in config)) {
    config = { ...config, rule_files: ruleNames };
  }
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, toYaml(config));
  const server = await startProcess({
    dir,
    name: 'prometheus',
    command: which('prometheus') ?? 'prometheus',
    args: (port) => [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      ...(options.args ?? []),
    ],
  });
  return {
    ...server,
    async query(expr: string, time?: Date): Promise<PromSample[]> {
      const params = new URLSearchParams({ query: expr });
      if (time) params.set('time', String(time.getTime() / 1000));
      const response = await fetch(`${server.url}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: params,
      });
      const body = (await response.json()) as {
        status: string;
        data?: { resultType: string; result: unknown };
        errorType?: string;
        error?: string;
      };
      if (body.status !== 'success') throw new Error(`${body.errorType ?? 'error'}: ${body.error ?? response.statusText} in ${expr}`);
      const data = body.data!;
      if (data.resultType === 'vector') return data.result as PromSample[];
      if (data.resultType === 'scalar') return [{ metric: {}, value: data.result as [number, string] }];
      return [];
    },
    async rules(): Promise<RuleGroupStatus[]> {
      const response = await fetch(`${server.url}/api/v1/rules`);
      const body = (await response.json()) as { data: { groups: RuleGroupStatus[] } };
      return body.data.groups;
    },
  };
}

/** Starts a private Alertmanager (clustering off); resolves when /-/ready answers. */
export async function startAlertmanager(options: AlertmanagerOptions): Promise<RunningAlertmanager> {
  ensureObservabilityTools();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfrag-am-'));
  const configFile = path.join(dir, 'alertmanager.yml');
  fs.writeFileSync(configFile, toYaml(options.config));
  for (const [name, content] of Object.entries(options.files ?? {})) fs.writeFileSync(path.join(dir, name), content);
  const server = await startProcess({
    dir,
    name: 'alertmanager',
    command: alertmanagerBinary()!,
    args: (port) => [
      `--config.file=${configFile}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      ...(options.args ?? []),
    ],
  });
  return {
    ...server,
    async alerts(): Promise<AlertmanagerAlert[]> {
      const response = await fetch(`${server.url}/api/v2/alerts`);
      if (!response.ok) throw new Error(`GET /api/v2/alerts: ${response.status}`);
      return (await response.json()) as AlertmanagerAlert[];
    },
    async postAlerts(alerts: PostableAlert[]): Promise<void> {
      const response = await fetch(`${server.url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      if (!response.ok) throw new Error(`POST /api/v2/alerts: ${response.status} ${await response.text()}`);
    },
  };
}

function writeRules(dir: string, rules: PrometheusOptions['rules']): string[] {
  if (!rules) return [];
  const entries: Array<[string, string]> = Array.isArray(rules)
    ? rules.map((file) => [path.basename(file), fs.readFileSync(file, 'utf8')])
    : Object.entries(rules);
  for (const [name, content] of entries) fs.writeFileSync(path.join(dir, name), content);
  return entries.map(([name]) => name);
}

interface ProcessSpec {
  dir: string;
  name: string;
  command: string;
  args: (port: number) => string[];
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function startProcess(spec: ProcessSpec): Promise<RunningServer> {
  let lastError: unknown;
  // A port picked free can be taken before the server binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let output = '';
    const child = spawn(spec.command, spec.args(port), { cwd: spec.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const append = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    let exited = false;
    const exitedPromise = new Promise<void>((resolve) =>
      child.once('exit', () => {
        exited = true;
        running.delete(child);
        resolve();
      }),
    );
    const url = `http://127.0.0.1:${port}`;
    try {
      await Promise.race([
        waitFor(async () => !exited && (await fetch(`${url}/-/ready`)).ok, 30_000, `${spec.name} on ${url}`),
        exitedPromise.then(() => {
          throw new Error(`exited with code ${child.exitCode}`);
        }),
      ]);
    } catch (error) {
      child.kill('SIGKILL');
      await exitedPromise;
      lastError = new Error(`${spec.name} did not start: ${(error as Error).message}\n${output}`);
      if (/address already in use/i.test(output)) continue;
      break;
    }
    return {
      url,
      port,
      dir: spec.dir,
      logs: () => output,
      async stop() {
        if (!exited) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exitedPromise;
          clearTimeout(timer);
        }
        fs.rmSync(spec.dir, { recursive: true, force: true });
      },
    };
  }
  fs.rmSync(spec.dir, { recursive: true, force: true });
  throw lastError;
}
