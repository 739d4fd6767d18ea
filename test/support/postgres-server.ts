import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './ports';

export interface PostgresServer {
  url: string;
  port: number;
  /** stops the server (fast shutdown) keeping its data */
  pause(): Promise<void>;
  /** starts it again on the same port and data */
  resume(): Promise<void>;
  /** stops it and removes its data */
  stop(): Promise<void>;
}

function pgBinDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const dir = path.join(base, version, 'bin');
    if (fs.existsSync(path.join(dir, 'initdb'))) return dir;
  }
  throw new Error('PostgreSQL server binaries not found: install the postgresql package (npm test does it)');
}

/** Runs a PostgreSQL binary as the postgres user (initdb refuses root). */
function asPostgres(binary: string, args: string[]): void {
  const isRoot = process.getuid?.() === 0;
  const command = isRoot ? 'runuser' : binary;
  const commandArgs = isRoot ? ['-u', 'postgres', '--', binary, ...args] : args;
  const result = spawnSync(command, commandArgs, { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${path.basename(binary)} failed: ${result.stderr || result.stdout}`);
}

/** A private PostgreSQL on a random loopback port in a temp dir; database `kb`, user `kb`. */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = pgBinDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfrag-pg-'));
  const dataDir = path.join(dir, 'data');
  const socketDir = path.join(dir, 'socket');
  fs.mkdirSync(socketDir);
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  fs.chmodSync(dir, 0o755);
  asPostgres(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const options = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${socketDir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const logFile = path.join(dir, 'postgres.log');
  const start = () => asPostgres(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-o', options, '-l', logFile, '-w', '-t', '60', 'start']);
  const stopServer = (mode: string) => asPostgres(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  start();
  asPostgres(path.join(bin, 'psql'), [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    'postgres',
    '-d',
    'postgres',
    '-v',
    'ON_ERROR_STOP=1',
    '-c',
    "CREATE ROLE kb LOGIN PASSWORD 'kb-test-password' SUPERUSER",
    '-c',
    'CREATE DATABASE kb OWNER kb',
  ]);
  let running = true;
  return {
    url: `postgres://kb:kb-test-password@127.0.0.1:${port}/kb`,
    port,
    async pause() {
      if (running) stopServer('fast');
      running = false;
    },
    async resume() {
      if (!running) start();
      running = true;
    },
    async stop() {
      try {
        if (running) stopServer('immediate');
      } finally {
        running = false;
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A fresh empty database on the server, for test files that share one server. */
export async function createDatabase(server: PostgresServer, name: string): Promise<string> {
  const bin = pgBinDir();
  asPostgres(path.join(bin, 'psql'), [
    '-h',
    '127.0.0.1',
    '-p',
    String(server.port),
    '-U',
    'postgres',
    '-d',
    'postgres',
    '-c',
    `CREATE DATABASE "${name}" OWNER kb`,
  ]);
  return server.url.replace(/\/kb$/, `/${name}`);
}
