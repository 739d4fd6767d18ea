import { Logger } from '@nestjs/common';
import Transport from 'winston-transport';
import { afterEach, describe, expect, it } from 'vitest';
import { AppMetrics } from '../../../src/telemetry/app-metrics';
import { EventLoopMetrics, EventLoopMonitor, STALL_WARNING_MS } from '../../../src/telemetry/event-loop-monitor';
import { createWinstonLogger, WinstonNestLogger } from '../../../src/telemetry/logger';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
function blockLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // synchronous work on the event loop, as a hostile document's parse would be
  }
}

class CapturingTransport extends Transport {
  readonly records: Array<Record<string, unknown>> = [];
  override log(info: Record<string, unknown>, done: () => void): void {
    this.records.push({ ...info });
    done();
  }
}

describe('EventLoopMonitor', () => {
  let monitor: EventLoopMonitor | undefined;
  afterEach(() => monitor?.stop());

  it('reports a blocked loop as a stall with its duration, and in the window max', async () => {
    const stalls: number[] = [];
    monitor = new EventLoopMonitor((ms) => stalls.push(ms));
    monitor.start();
    await sleep(100);
    expect(stalls).toEqual([]);
    expect(monitor.window()!.max).toBeLessThan(STALL_WARNING_MS / 1000);
    blockLoop(1300);
    await sleep(60);
    expect(stalls).toHaveLength(1);
    expect(stalls[0]).toBeGreaterThanOrEqual(STALL_WARNING_MS);
    expect(stalls[0]).toBeLessThan(1400);
    const window = monitor.window()!;
    expect(window.max).toBeGreaterThan(1.2);
    expect(window.p50).toBeLessThan(0.2);
    expect(window.utilization).toBeGreaterThan(0.5);
  });

  it('does not call a short block a stall', async () => {
    const stalls: number[] = [];
    monitor = new EventLoopMonitor((ms) => stalls.push(ms));
    monitor.start();
    await sleep(50);
    blockLoop(300);
    await sleep(60);
    expect(stalls).toEqual([]);
    // the delay histogram rounds: a 300 ms block can read as 0.2499 s
    expect(monitor.window()!.max).toBeGreaterThan(0.2);
  });
});

describe('EventLoopMetrics', () => {
  afterEach(() => Logger.overrideLogger(false));

  it('logs a stall past one second as a JSON warning with its duration', async () => {
    const capture = new CapturingTransport();
    Logger.overrideLogger(new WinstonNestLogger(createWinstonLogger('info', [capture])));
    const metrics = new EventLoopMetrics(new AppMetrics());
    metrics.onModuleInit();
    try {
      await sleep(50);
      blockLoop(1200);
      await sleep(60);
    } finally {
      metrics.onModuleDestroy();
    }
    const warnings = capture.records.filter((r) => r.logger === 'event-loop');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      level: 'warn',
      message: expect.stringMatching(/^event loop stalled for \d+ ms$/),
      threshold_ms: 1000,
    });
    expect(warnings[0].stall_ms).toBeGreaterThanOrEqual(1000);
  });
});
