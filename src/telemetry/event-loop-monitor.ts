import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ValueType, type BatchObservableCallback, type Observable } from '@opentelemetry/api';
import { createHistogram, performance, type EventLoopUtilization, type RecordableHistogram } from 'node:perf_hooks';
import { AppMetrics } from './app-metrics';
import { RUNTIME_METRICS } from './metric-names';

/** A loop blocked this long is logged as a warning and counted in nodejs_eventloop_stalls_total. */
export const STALL_WARNING_MS = 1_000;
/**
 * how often the loop is sampled: the delay of a timer due every SAMPLE_MS. 50 ms costs ~0.5 % of a
 * core on an idle process (20 ms: ~1 %), and a stall is measured within 50 ms.
 */
const SAMPLE_MS = 50;
/** the gauges cover the last WINDOW_SLICES slices (25-30 s), so a 30 s scrape misses no stall */
const SLICE_MS = 5_000;
const WINDOW_SLICES = 6;

export interface EventLoopWindow {
  /** seconds */
  p50: number;
  p99: number;
  max: number;
  /** share of the window the loop was busy, 0-1 */
  utilization: number;
}

/**
 * Measures event-loop delay as the lateness of a timer due every 50 ms (a blocked loop makes it
 * late by as long as it was blocked), kept in histograms per 5 s slice so the gauges show the last
 * ~30 s whichever reader (Prometheus scrape, OTLP export) asks, and reports a stall as soon as the
 * loop runs again. perf_hooks' own monitorEventLoopDelay cannot be merged over slices.
 */
export class EventLoopMonitor {
  private slices: RecordableHistogram[] = [createHistogram()];
  private utilizationMarks: EventLoopUtilization[] = [performance.eventLoopUtilization()];
  private sliceStarted = performance.now();
  private due = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly onStall: (stallMs: number) => void) {}

  start(): void {
    this.due = performance.now() + SAMPLE_MS;
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** undefined until the first sample */
  window(): EventLoopWindow | undefined {
    const merged = createHistogram();
    for (const slice of this.slices) merged.add(slice);
    if (merged.count === 0) return undefined;
    return {
      p50: merged.percentile(50) / 1e9,
      p99: merged.percentile(99) / 1e9,
      max: merged.max / 1e9,
      utilization: performance.eventLoopUtilization(this.utilizationMarks[0]).utilization,
    };
  }

  private sample(): void {
    const now = performance.now();
    const delayMs = Math.max(0, now - this.due);
    this.due = now + SAMPLE_MS;
    // a histogram takes integers >= 1 (nanoseconds here)
    this.slices.at(-1)!.record(Math.max(1, Math.round(delayMs * 1e6)));
    if (delayMs >= STALL_WARNING_MS) this.onStall(delayMs);
    if (now - this.sliceStarted >= SLICE_MS) {
      this.slices.push(createHistogram());
      this.utilizationMarks.push(performance.eventLoopUtilization());
      if (this.slices.length > WINDOW_SLICES) {
        this.slices.shift();
        this.utilizationMarks.shift();
      }
      this.sliceStarted = now;
    }
  }
}

/**
 * The event-loop gauges (delay p50/p99/max and utilization over the last ~30 s) and the stall
 * counter, and a warning log line for every stall of a second or more, with its duration.
 */
@Injectable()
export class EventLoopMetrics implements OnModuleInit, OnModuleDestroy {
  private monitor?: EventLoopMonitor;
  private callback?: BatchObservableCallback;
  private observables: Observable[] = [];
  private readonly logger = new Logger('event-loop');

  constructor(private readonly metrics: AppMetrics) {}

  onModuleInit(): void {
    const meter = this.metrics.meter;
    const stalls = meter.createCounter(RUNTIME_METRICS.eventLoopStallsTotal.name, {
      description: `Event-loop stalls of ${STALL_WARNING_MS} ms or more`,
      valueType: ValueType.INT,
    });
    // the series exists from the start, so the first stall is an increase Prometheus sees
    stalls.add(0);
    this.monitor = new EventLoopMonitor((stallMs) => {
      stalls.add(1);
      this.logger.warn({
        message: `event loop stalled for ${Math.round(stallMs)} ms`,
        stall_ms: Math.round(stallMs),
        threshold_ms: STALL_WARNING_MS,
      });
    });
    const gauge = (metric: { name: string }, description: string, unit: string) =>
      meter.createObservableGauge(metric.name, { description, unit, valueType: ValueType.DOUBLE });
    const p50 = gauge(RUNTIME_METRICS.eventLoopDelayP50, 'Event-loop delay, median over the last 30 s', 's');
    const p99 = gauge(RUNTIME_METRICS.eventLoopDelayP99, 'Event-loop delay, 99th percentile over the last 30 s', 's');
    const max = gauge(RUNTIME_METRICS.eventLoopDelayMax, 'Event-loop delay, longest over the last 30 s', 's');
    const utilization = gauge(RUNTIME_METRICS.eventLoopUtilization, 'Share of the last 30 s the event loop was busy', '1');
    this.observables = [p50, p99, max, utilization];
    this.callback = (result) => {
      const window = this.monitor?.window();
      if (!window) return;
      result.observe(p50, window.p50);
      result.observe(p99, window.p99);
      result.observe(max, window.max);
      result.observe(utilization, window.utilization);
    };
    meter.addBatchObservableCallback(this.callback, this.observables);
    this.monitor.start();
  }

  onModuleDestroy(): void {
    this.monitor?.stop();
    if (this.callback) this.metrics.meter.removeBatchObservableCallback(this.callback, this.observables);
  }
}
