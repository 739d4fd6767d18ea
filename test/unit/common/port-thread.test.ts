import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError, NotFoundError, ServiceUnavailableError } from '../../../src/common/errors';
import { PortThread, threadProxy } from '../../../src/common/port-thread';
import type { PortThreadTarget } from '../../support/port-thread-target';

const threads: PortThread[] = [];

function host(argument: { label: string; failInit?: boolean }): PortThread {
  const thread = new PortThread({
    modulePath: join(__dirname, '../../support/port-thread-target.ts'),
    exportName: 'PortThreadTarget',
    argument,
    name: 'test target',
  });
  threads.push(thread);
  return thread;
}

afterEach(async () => {
  await Promise.all(threads.splice(0).map((thread) => thread.close()));
});

describe('PortThread', () => {
  it('runs the object on another thread, after its init(), with typed arrays and plain data crossing both ways', async () => {
    const thread = host({ label: 'a' });
    await thread.start();
    expect(thread.threadId).toBeGreaterThan(0);
    expect(await thread.call('describe')).toMatchObject({ label: 'a', inits: 1 });
    expect(await thread.call('sum', Float32Array.of(1, 2, 3.5))).toBe(6.5);
    const data = { ids: ['x', 'y'], filter: { lang: { in: ['en', 'zh'] } }, vector: Float32Array.of(0.25) };
    expect(await thread.call('echo', data)).toEqual(data);
  });

  it('rethrows an application error as the same class, so it still maps to its problem+json status', async () => {
    const thread = host({ label: 'b' });
    const error = await thread.call('missing', '0b6a3f0e-4b7e-4c1a-9d5e-2f1e8c3a7b9d').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({
      status: 404,
      code: 'not-found',
      message: "knowledge base '0b6a3f0e-4b7e-4c1a-9d5e-2f1e8c3a7b9d' not found",
    });
  });

  it('keeps the name, message and code of other errors', async () => {
    const thread = host({ label: 'c' });
    const error = (await thread.call('native').catch((caught: unknown) => caught)) as Error & { code?: string };
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(AppError);
    expect(error.message).toBe('SQLITE_BUSY: database is locked');
    expect(error.code).toBe('SQLITE_BUSY');
  });

  it('fails a call whose argument or result cannot cross threads, naming it, and keeps serving', async () => {
    const thread = host({ label: 'd' });
    await expect(thread.call('echo', () => 1)).rejects.toThrow(/test target\.echo: .*could not be cloned/);
    await expect(thread.call('returnsFunction')).rejects.toThrow(/could not be cloned/);
    await expect(thread.call('unknownMethod')).rejects.toThrow('test target has no method unknownMethod');
    expect(await thread.call('echo', 7)).toBe(7);
  });

  it('fails a call whose reply cannot be read here (nested too deep for this stack) instead of leaving it waiting, and keeps serving', async () => {
    const thread = host({ label: 'deep' });
    await expect(thread.call('deep', 3000)).rejects.toThrow(/a reply of the test target thread could not be read/);
    expect(await thread.call('echo', 7)).toBe(7);
  });

  it('fails the calls in flight with 503 when the thread dies, and starts a new one (with init) on the next call', async () => {
    const thread = host({ label: 'e' });
    const before = (await thread.call<{ started: number }>('describe')).started;
    const firstThread = thread.threadId;
    const hanging = thread.call('hang').catch((caught: unknown) => caught);
    const crashed = await thread.call('crash').catch((caught: unknown) => caught);
    for (const error of [crashed, await hanging]) {
      expect(error).toBeInstanceOf(ServiceUnavailableError);
      expect((error as Error).message).toMatch(/the test target thread stopped \(exited with code 3\)/);
    }
    const after = await thread.call<{ inits: number; started: number }>('describe');
    expect(after.inits).toBe(1);
    expect(after.started).toBeGreaterThanOrEqual(before);
    expect(thread.threadId).not.toBe(firstThread);
  });

  it('stops restarting a thread that keeps dying, failing fast with 503', async () => {
    const thread = host({ label: 'f' });
    for (let i = 0; i < 5; i++) await thread.call('crash').catch(() => undefined);
    const error = await thread.call('echo', 1).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect((error as Error).message).toMatch(/stopped 5 times within a minute/);
  });

  it('reports an object that cannot start (its init throws) to every caller', async () => {
    const thread = host({ label: 'g', failInit: true });
    await expect(thread.start()).rejects.toThrow('cannot open the store');
    await expect(thread.call('echo', 1)).rejects.toThrow('cannot open the store');
  });

  it('after close, calls fail with 503 and the thread is gone', async () => {
    const thread = host({ label: 'h' });
    await thread.start();
    await thread.close();
    expect(thread.threadId).toBeUndefined();
    await expect(thread.call('echo', 1)).rejects.toBeInstanceOf(ServiceUnavailableError);
  });

  it('starts in a process run with an option a thread refuses (--max-old-space-size on the command line)', async () => {
    const script = `
      const { PortThread } = require(${JSON.stringify(resolve(__dirname, '../../../src/common/port-thread.ts'))});
      const thread = new PortThread({ modulePath: ${JSON.stringify(join(__dirname, '../../support/port-thread-target.ts'))}, exportName: 'PortThreadTarget', argument: { label: 'big heap' }, name: 'test target' });
      thread.call('describe').then(async (described) => { console.log(JSON.stringify(described)); await thread.close(); });
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', '-e', script], {
      cwd: resolve(__dirname, '../../..'),
    });
    expect(JSON.parse(stdout)).toMatchObject({ label: 'big heap', inits: 1 });
  });
});

describe('threadProxy', () => {
  it('calls the listed methods on the thread, with the arguments a prepare step leaves, and close() stops the thread', async () => {
    const proxy = threadProxy<PortThreadTarget, 'describe' | 'echo'>(
      {
        modulePath: join(__dirname, '../../support/port-thread-target.ts'),
        exportName: 'PortThreadTarget',
        argument: { label: 'proxied' },
        name: 'test target',
      },
      { methods: ['describe', 'echo'], prepare: { echo: (value) => [{ kept: (value as { kept: unknown }).kept }] } },
    );
    threads.push(proxy.portThread);
    expect(await proxy.describe()).toMatchObject({ label: 'proxied', inits: 1 });
    expect(await proxy.echo({ kept: 1, signal: new AbortController().signal })).toEqual({ kept: 1 });
    expect(proxy.portThread.threadId).toBeGreaterThan(0);
    await proxy.close();
    expect(proxy.portThread.threadId).toBeUndefined();
    expect('sum' in proxy).toBe(false);
  });
});
