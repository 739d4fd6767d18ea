import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';

/** What one family is called and says, as its SDK instrument said it. */
export interface Family {
  name: string;
  description: string;
  unit: string;
}

/** The SDK's cardinality limit per instrument: past it, new label sets share one overflow series. */
const MAX_SERIES = 2_000;
const OVERFLOW_KEY = '\u0000overflow';
const OVERFLOW_ATTRIBUTES: Attributes = Object.freeze({ 'otel.metric.overflow': true });

/** One series of a counter: its labels and its running total since it first counted. */
export class CounterSeries {
  readonly start: HrTime = hrTime();
  value = 0;
  constructor(readonly attributes: Attributes) {}

  add(value = 1): void {
    this.value += value;
  }
}

/** One series of an explicit-bucket histogram: bucket i counts values <= boundaries[i], as the SDK's; min and max kept. */
export class HistogramSeries {
  readonly start: HrTime = hrTime();
  readonly counts: number[];
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  constructor(
    readonly attributes: Attributes,
    readonly boundaries: readonly number[],
  ) {
    this.counts = new Array<number>(boundaries.length + 1).fill(0);
  }

  record(value: number): void {
    if (Number.isNaN(value)) return;
    this.count += 1;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    let bucket = 0;
    while (bucket < this.boundaries.length && this.boundaries[bucket] < value) bucket += 1;
    this.counts[bucket] += 1;
  }
}

/** A cumulative family whose series are found by a key of their labels, not by hashing the label set. */
export class KeyedFamily<S extends CounterSeries | HistogramSeries> {
  private readonly series = new Map<string, S>();
  constructor(
    private readonly family: Family,
    private readonly make: (attributes: Attributes) => S,
    private readonly kind: 'counter' | 'histogram',
  ) {}

  /** The series `key` names (one key per label set); `attributes` is called once, for a series not seen before. */
  get(key: string, attributes: () => Attributes): S {
    const found = this.series.get(key);
    if (found) return found;
    if (this.series.size >= MAX_SERIES) return this.get(OVERFLOW_KEY, () => OVERFLOW_ATTRIBUTES);
    const made = this.make(attributes());
    this.series.set(key, made);
    return made;
  }

  toMetricData(now: HrTime): MetricData {
    const series = [...this.series.values()];
    if (this.kind === 'counter') {
      return {
        descriptor: { ...this.family, valueType: ValueType.INT },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints: (series as CounterSeries[]).map((s) => ({
          startTime: s.start,
          endTime: now,
          attributes: s.attributes,
          value: s.value,
        })),
      };
    }
    return {
      descriptor: { ...this.family, valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: (series as HistogramSeries[]).map((s) => ({
        startTime: s.start,
        endTime: now,
        attributes: s.attributes,
        value: {
          buckets: { boundaries: [...s.boundaries], counts: [...s.counts] },
          count: s.count,
          sum: s.sum,
          ...(s.count > 0 && { min: s.min, max: s.max }),
        },
      })),
    };
  }
}

/**
 * Families recorded on every request, kept here rather than by SDK instruments, and served to the
 * metric readers as a MetricProducer. Why: the SDK finds a series by hashing its label set (sorting
 * the keys and JSON-encoding them) on every record, ~3 µs for each of the three HTTP families per
 * request; here the caller keeps the series it found once. Prometheus and OTLP see the same names,
 * descriptions, units, labels and buckets, cumulative (as the SDK's, by default).
 */
export class PreAggregatedSeries implements MetricProducer {
  private readonly families: Array<KeyedFamily<CounterSeries> | KeyedFamily<HistogramSeries>> = [];
  private enabled = false;

  /** called when the SDK starts with a reader that takes this producer: until then (telemetry off) nothing is recorded */
  enable(): void {
    this.enabled = true;
  }

  get recording(): boolean {
    return this.enabled;
  }

  counter(family: Family): KeyedFamily<CounterSeries> {
    const counter = new KeyedFamily(family, (attributes) => new CounterSeries(attributes), 'counter');
    this.families.push(counter);
    return counter;
  }

  histogram(family: Family, boundaries: readonly number[]): KeyedFamily<HistogramSeries> {
    const histogram = new KeyedFamily(family, (attributes) => new HistogramSeries(attributes, boundaries), 'histogram');
    this.families.push(histogram);
    return histogram;
  }

  async collect(): Promise<CollectionResult> {
    const now = hrTime();
    // a family with no series is left out, as the SDK does for an instrument that recorded nothing
    const metrics = this.families.map((family) => family.toMetricData(now)).filter((m) => m.dataPoints.length > 0);
    return {
      resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope: { name: 'self-rag-pipeline' }, metrics }] },
      errors: [],
    };
  }
}

/** One per process: the metric readers (sdk.ts) and AppMetrics share it. */
let shared: PreAggregatedSeries | undefined;
export function preAggregatedSeries(): PreAggregatedSeries {
  shared ??= new PreAggregatedSeries();
  return shared;
}
