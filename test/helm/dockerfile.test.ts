import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { DockerfileParser, type Healthcheck, type Instruction, type ModifiableInstruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CHART_DIR, findObject, fullname, type K8sObject, renderChart, REPO_ROOT } from './chart';

const dockerfileText = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(dockerfileText);
const packageJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
const chartValues = parseYaml(readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8'));

/** The instructions of each stage, by stage name. */
function stages(): Record<string, Instruction[]> {
  const byStage: Record<string, Instruction[]> = {};
  let current: Instruction[] | undefined;
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      current = [];
      byStage[instruction.getExpandedArguments()[2].getValue()] = current;
    } else {
      current?.push(instruction);
    }
  }
  return byStage;
}

const args = (instruction: Instruction) => instruction.getExpandedArguments().map((argument) => argument.getValue());
const ofKind = (instructions: Instruction[], keyword: string) => instructions.filter((i) => i.getKeyword() === keyword);
/** the shell commands of a stage's RUN instructions, split at && */
const commands = (instructions: Instruction[]) =>
  ofKind(instructions, 'RUN').flatMap((run) => run.getArgumentsContent()!.split('&&').map((command) => command.trim().replace(/\s+/g, ' ')));
const execForm = (instruction: Instruction): string[] => JSON.parse(instruction.getArgumentsContent()!.replace(/^CMD\s+/, ''));

describe('Dockerfile', () => {
  const { build, runtime } = stages();

  it('passes the dockerfile-utils linter (the Docker language server checks) without a finding', () => {
    expect(validate(dockerfileText).map((d) => `line ${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`)).toEqual([]);
  });

  it('is multi-stage from the same slim Node image, at a version package.json accepts', () => {
    expect(Object.keys(stages())).toEqual(['build', 'runtime']);
    const images = dockerfile.getFROMs().map((from) => from.getExpandedArguments()[0].getValue());
    expect(new Set(images).size).toBe(1);
    const [, major, minor] = /^node:(\d+)\.(\d+)-bookworm-slim$/.exec(images[0])!;
    const [, minMajor, minMinor] = /^>=(\d+)\.(\d+)$/.exec(packageJson.engines.node)!;
    expect(Number(major) * 1000 + Number(minor)).toBeGreaterThanOrEqual(Number(minMajor) * 1000 + Number(minMinor));
  });

  it('builds with the package.json scripts: npm ci, npm run build, then prunes dev dependencies', () => {
    const npmCommands = commands(build).filter((command) => command.startsWith('npm '));
    expect(npmCommands.map((command) => command.split(' ').filter((word) => !word.startsWith('--no-')).join(' '))).toEqual([
      'npm ci',
      'npm run build',
      'npm prune --omit=dev',
    ]);
    expect(packageJson.scripts.build).toBe('tsc -p tsconfig.build.json');
    // better-sqlite3 needs a compiler when npm ci builds it
    expect(packageJson.dependencies).toHaveProperty('better-sqlite3');
    expect(commands(build).find((command) => command.startsWith('apt-get install'))!.split(' ')).toEqual(expect.arrayContaining(['python3', 'make', 'g++']));
  });

  it('copies into the build everything the build script reads and the assets dist/ reads beside it, and .dockerignore lets exactly that through', () => {
    const copied = ofKind(build, 'COPY').flatMap((copy) => args(copy).slice(0, -1));
    const buildConfig = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.build.json'), 'utf8'));
    // npm ci runs package.json's postinstall script, so the file it names comes in with the lockfile
    const postinstall = /^node (\S+)$/.exec(packageJson.scripts.postinstall)![1];
    const needed = ['package.json', 'package-lock.json', postinstall, 'tsconfig.build.json', buildConfig.extends.replace(/^\.\//, ''), ...buildConfig.include.map((glob: string) => glob.split('/')[0]), 'assets'];
    expect(copied.sort()).toEqual([...new Set(needed)].sort());

    const ignoreLines = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').filter((line) => line && !line.startsWith('#'));
    expect(ignoreLines[0]).toBe('*');
    expect(ignoreLines.slice(1).map((line) => line.replace(/^!/, '').replace(/\/$/, '')).sort()).toEqual(copied.sort());
  });

  it('starts with package.json start:prod, which is what the end-to-end tests launch', () => {
    const [cmd] = ofKind(runtime, 'CMD');
    expect(execForm(cmd)).toEqual(packageJson.scripts['start:prod'].split(' '));
    expect(execForm(cmd)).toEqual(['node', '--max-semi-space-size=8', '--no-parallel-scavenge', '--require', './dist/instrumentation.js', 'dist/main.js']);
  });

  it('has a source file for every entry point it and the chart run (src/X.ts compiles to dist/X.js)', () => {
    const migrateCommand = packageJson.scripts.migrate.replace(/^npm run build && /, '');
    const entryPoints = [...execForm(ofKind(runtime, 'CMD')[0]), ...migrateCommand.split(' ')].filter((word) => /dist\/.+\.js$/.test(word));
    expect(entryPoints.length).toBe(3);
    for (const entry of entryPoints) {
      expect(existsSync(path.join(REPO_ROOT, entry.replace(/^(\.\/)?dist\//, 'src/').replace(/\.js$/, '.ts'))), entry).toBe(true);
    }
  });

  describe('runtime stage against the chart', () => {
    let objects: K8sObject[];
    beforeAll(() => {
      objects = renderChart({ valuesFiles: ['postgres-qdrant-values.yaml'] });
    });

    it('runs the migrations Job with the package.json migrate command, and the API with the image CMD', () => {
      const job = findObject(objects, 'Job', `${fullname}-migrations`);
      expect(job.spec.template.spec.containers[0].command.join(' ')).toBe(packageJson.scripts.migrate.replace(/^npm run build && /, ''));
      const api = findObject(objects, 'Deployment', `${fullname}-api`);
      expect(api.spec.template.spec.containers[0]).not.toHaveProperty('command');
      expect(api.spec.template.spec.containers[0]).not.toHaveProperty('args');
    });

    it('runs as the numeric non-root user the chart expects, writing only to the /data volume', () => {
      const [user] = ofKind(runtime, 'USER');
      const [uid, gid] = args(user)[0].split(':').map(Number);
      expect(uid).toBeGreaterThan(0);
      expect({ uid, gid }).toEqual({ uid: chartValues.podSecurityContext.runAsUser, gid: chartValues.podSecurityContext.runAsGroup });
      expect(commands(runtime)).toEqual(['mkdir /data', `chown ${uid}:${gid} /data`]);
      expect(JSON.parse(ofKind(runtime, 'VOLUME')[0].getArgumentsContent()!)).toEqual(['/data']);
      const env = Object.fromEntries(ofKind(runtime, 'ENV').flatMap((e) => args(e).map((pair) => pair.split('='))));
      expect(env.DATA_DIR).toBe(findObject(objects, 'ConfigMap', fullname).data!.DATA_DIR);
      expect(env.PORT).toBe(String(chartValues.containerPort));
      expect(env.METRICS_PORT).toBe(String(chartValues.metricsPort));
      expect(args(ofKind(runtime, 'EXPOSE')[0])).toEqual([String(chartValues.containerPort), String(chartValues.metricsPort)]);
    });

    it('takes only the build output (and the assets beside it) into the runtime image', () => {
      const copies = ofKind(runtime, 'COPY').map((copy) => args(copy));
      expect(copies.map((copy) => copy.slice(0, -1))).toEqual([['/app/package.json'], ['/app/node_modules'], ['/app/dist'], ['/app/assets']]);
      for (const copy of ofKind(runtime, 'COPY') as ModifiableInstruction[]) {
        expect(copy.getFlags().map((flag) => `${flag.getName()}=${flag.getValue()}`)).toEqual(['from=build']);
      }
    });
  });

  it('HEALTHCHECK asks /health with the guide timings and fails when the service does not answer 2xx', async () => {
    const [healthcheck] = ofKind(runtime, 'HEALTHCHECK') as Healthcheck[];
    const flags = Object.fromEntries(healthcheck.getFlags().map((flag) => [flag.getName(), flag.getValue()]));
    expect(flags).toEqual({ interval: '30s', timeout: '10s', 'start-period': '40s', retries: '3' });
    const command = execForm(healthcheck);
    expect(command.join(' ')).toContain("'/health'");
    let status = 200;
    const server = createServer((request, response) => {
      response.statusCode = request.url === '/health' ? status : 404;
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = String((server.address() as AddressInfo).port);
    const run = (env: Record<string, string>) =>
      new Promise<number | null>((resolve) => {
        // asynchronous: the server answers from this same process
        spawn(process.execPath, command.slice(1), { env: { ...process.env, ...env }, stdio: 'ignore' }).on('exit', resolve);
      });
    try {
      expect(command[0]).toBe('node');
      expect(await run({ PORT: port })).toBe(0);
      status = 503;
      expect(await run({ PORT: port })).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    // nothing listening any more
    expect(await run({ PORT: port })).toBe(1);
  });
});
