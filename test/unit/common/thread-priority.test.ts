import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { threadNice } from '../../support/thread-nice';

const MODULE = path.resolve(__dirname, '../../../src/common/thread-priority.ts');

describe.runIf(fs.existsSync('/proc/thread-self'))('lowerThisThreadPriority', () => {
  it("lowers the calling thread's priority only, never the process's other threads", async () => {
    const mainBefore = threadNice('/proc/thread-self/stat');
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       const lowered = require(${JSON.stringify(MODULE)}).lowerThisThreadPriority(7);
       const stat = require('node:fs').readFileSync('/proc/thread-self/stat', 'utf8');
       parentPort.postMessage({ lowered, nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) });`,
      { eval: true, execArgv: ['--require', createRequire(__filename).resolve('tsx/cjs')] },
    );
    const reply = await new Promise<{ lowered: boolean; nice: number }>((resolve, reject) =>
      worker.once('message', resolve).once('error', reject),
    );
    await worker.terminate();
    expect(reply).toEqual({ lowered: true, nice: 7 });
    expect(threadNice('/proc/thread-self/stat')).toBe(mainBefore);
  });
});
