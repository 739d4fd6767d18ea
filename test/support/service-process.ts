import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, waitFor } from './ports';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * The node options and entry point of package.json's `start:prod` (what the image runs): the GC
 * settings and `--require ./dist/instrumentation.js dist/main.js`, so tests and benchmarks start
 * the service exactly as production does.
 */
export const SERVICE_NODE_ARGS: readonly string[] = (() => {
  const startProd = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts['start:prod'];
  const [node, ...args] = startProd.split(' ');
  if (node !== 'node') throw new Error(`package.json start:prod must start with node: ${startProd}`);
  return args;
})();

export interface ServiceProcess {
  baseUrl: string;
  port: number;
  /** `http://127.0.0.1:<METRICS_PORT>/metrics`: Prometheus text is served only on this listener */
  metricsUrl: string;
  metricsPort: number;
  dataDir: string;
  child: ChildProcess;
  /** every line the service printed (stdout and stderr) */
  output: string[];
  /** SIGTERM and wait for exit; resolves with the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL at once, as a crash */
  kill(): Promise<void>;
}

/**
 * The built service as a real child process, started exactly like production (package.json's
 * `start:prod`, SERVICE_NODE_ARGS); needs `npm run build` first.
 */
export async function startServiceProcess(
  env: Record<string, string> = {},
  /** `root`: another checkout's root whose build to start (a benchmark's side-by-side "before") */
  options: { dataDir?: string; port?: number; waitMs?: number; root?: string } = {},
): Promise<ServiceProcess> {
  const root = options.root ?? REPO_ROOT;
  const main = path.join(root, 'dist', 'main.js');
  if (!fs.existsSync(main)) throw new Error('dist/main.js is missing: run `npm run build` first (npm test does)');
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'selfrag-svc-'));
  const port = options.port ?? (await freePort());
  // services start in parallel: each gets a free metrics port unless the test names one
  const metricsPort = env.METRICS_PORT ? Number(env.METRICS_PORT) : await freePort();
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      RATE_LIMIT_MANAGEMENT_RPS: '1000000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const collect = (chunk: Buffer) => output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}:\n${output.slice(-20).join('\n')}`);
        return (await fetch(`${baseUrl}/health`)).ok;
      },
      options.waitMs ?? 30_000,
      'the service to answer /health',
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${output.slice(-30).join('\n')}`, { cause: error });
  }
  return {
    baseUrl,
    port,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    metricsPort,
    dataDir,
    child,
    output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The platform admin key the embedded default generated into DATA_DIR. */
export function generatedAdminKey(dataDir: string): string {
  return fs.readFileSync(path.join(dataDir, 'admin-api-key'), 'utf8').trim();
}
