import {
  context as contextApi,
  diag,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanAttributes,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { addHrTimes, hrTimeDuration, isAttributeValue, isTimeInputHrTime, isTracingSuppressed, millisToHrTime } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import {
  SamplingDecision,
  type IdGenerator,
  type ReadableSpan,
  type Sampler,
  type SpanLimits,
  type SpanProcessor,
  type TimedEvent,
} from '@opentelemetry/sdk-trace-base';
import type { InstrumentationScope } from '@opentelemetry/core';

/** what the SDK's tracer provider resolved from its options and the environment (OTEL_TRACES_SAMPLER, span limits) */
interface ResolvedTracerOptions {
  resource: Resource;
  sampler: Sampler;
  spanLimits: SpanLimits;
  idGenerator: IdGenerator;
  spanProcessor: SpanProcessor;
}

/**
 * The global tracer provider: the SDK's, except for the tracers of the service's own scopes, whose
 * spans come from ServiceTracer. Both use the one sampler, span limits, id generator, resource
 * and span processor the SDK's provider resolved, so every span, the service's or an
 * instrumentation's, goes through the same sampling and the same batch export.
 *
 * Why: a request sampled in makes about ten spans of the service's own, and the SDK's span spent
 * ~5 µs on each on the event loop (two clock readings anchored to each other, HrTime arrays built
 * at start and end, attributes sanitized and copied twice for the sampler, a regex check of the
 * parent's ids). A ServiceSpan reads the clock once at each end, keeps times as numbers until
 * export, and trusts a parent it made itself.
 */
export class ServiceTracerProvider implements TracerProvider {
  private readonly tracers = new Map<string, Tracer>();
  private readonly options: ResolvedTracerOptions | undefined;

  constructor(
    private readonly sdk: TracerProvider,
    private readonly ownScopes: ReadonlySet<string>,
  ) {
    this.options = resolvedOptions(sdk);
    // an SDK that no longer has these fields gets its own tracers everywhere: slower, never wrong
    if (!this.options) diag.warn('ServiceTracerProvider: the SDK tracer provider has no resolved options; using its tracers');
  }

  getTracer(name: string, version?: string, options?: { schemaUrl?: string }): Tracer {
    if (!this.options || !this.ownScopes.has(name)) return this.sdk.getTracer(name, version, options);
    const key = `${name}@${version ?? ''}:${options?.schemaUrl ?? ''}`;
    let tracer = this.tracers.get(key);
    if (!tracer) this.tracers.set(key, (tracer = new ServiceTracer({ name, version, schemaUrl: options?.schemaUrl }, this.options)));
    return tracer;
  }
}

function resolvedOptions(sdk: TracerProvider): ResolvedTracerOptions | undefined {
  const options = (sdk as unknown as { _tracerOptions?: Partial<ResolvedTracerOptions> })._tracerOptions;
  if (!options?.resource || !options.sampler || !options.spanLimits || !options.idGenerator || !options.spanProcessor) return undefined;
  return options as ResolvedTracerOptions;
}

const NON_RECORDING: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
const NO_ATTRIBUTES: Attributes = Object.freeze({});

export class ServiceTracer implements Tracer {
  constructor(
    readonly instrumentationScope: InstrumentationScope,
    private readonly options: ResolvedTracerOptions,
  ) {}

  startSpan(name: string, options: SpanOptions = {}, parentContext: Context = contextApi.active()): Span {
    const ctx = options.root ? trace.deleteSpan(parentContext) : parentContext;
    if (isTracingSuppressed(ctx)) return NON_RECORDING;
    const parent = trace.getSpan(ctx);
    const parentSpanContext = parent?.spanContext();
    // a parent this tracer made has valid ids by construction
    const validParent =
      parentSpanContext !== undefined && (parent instanceof ServiceSpan || isSpanContextValid(parentSpanContext))
        ? parentSpanContext
        : undefined;
    const traceId = validParent ? validParent.traceId : this.options.idGenerator.generateTraceId();
    const spanId = this.options.idGenerator.generateSpanId();
    const kind = options.kind ?? SpanKind.INTERNAL;
    const links = options.links ?? [];
    const attributes = options.attributes ?? NO_ATTRIBUTES;
    const sampling = this.options.sampler.shouldSample(ctx, traceId, name, kind, attributes, links);
    const spanContext: SpanContext = {
      traceId,
      spanId,
      traceFlags: sampling.decision === SamplingDecision.RECORD_AND_SAMPLED ? TraceFlags.SAMPLED : TraceFlags.NONE,
      traceState: sampling.traceState ?? validParent?.traceState,
    };
    if (sampling.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext(spanContext);
    const span = new ServiceSpan(this, name, kind, spanContext, validParent, options.startTime);
    if (attributes !== NO_ATTRIBUTES) span.setAttributes(attributes);
    if (sampling.attributes) span.setAttributes(sampling.attributes);
    for (const link of links) span.addLink(link);
    this.options.spanProcessor.onStart(span, ctx);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, context: Context, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: unknown[]): ReturnType<F> {
    const fn = rest[rest.length - 1] as F;
    const options = (rest.length >= 2 ? rest[0] : undefined) as SpanOptions | undefined;
    const parentContext = (rest.length >= 3 ? rest[1] : undefined) as Context | undefined;
    const base = parentContext ?? contextApi.active();
    const span = this.startSpan(name, options, base);
    return contextApi.with<[Span], (span: Span) => ReturnType<F>>(
      trace.setSpan(base, span),
      fn as (span: Span) => ReturnType<F>,
      undefined,
      span,
    );
  }

  /** @internal for ServiceSpan */
  get settings(): ResolvedTracerOptions {
    return this.options;
  }
}

/**
 * A recording span of the service's own, readable by span processors and exporters as the SDK's is
 * (ReadableSpan). Times are kept as epoch milliseconds (a wall-clock start and a monotonic
 * duration, as the SDK anchors them) and become HrTime only when read.
 */
export class ServiceSpan implements Span, ReadableSpan {
  readonly attributes: SpanAttributes = {};
  readonly links: Link[] = [];
  readonly events: TimedEvent[] = [];
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  ended = false;
  private attributeCount = 0;
  private readonly startEpochMs: number;
  private readonly startMonotonicMs: number;
  /** wall clock minus monotonic clock at the start, to place performance.now() timestamps given later, as the SDK does */
  private readonly clockOffsetMs: number;
  /** set when the caller gave a start time: later times without one are read from the wall clock, as the SDK does */
  private readonly explicitStart: HrTime | undefined;
  /** the end: given, or (the common case) the monotonic time from the start, made an HrTime when read */
  private endGiven: HrTime | undefined;
  private endAfterStartMs: number | undefined;
  private startHr: HrTime | undefined;
  private endHr: HrTime | undefined;

  constructor(
    private readonly tracer: ServiceTracer,
    public name: string,
    readonly kind: SpanKind,
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    startTime: TimeInput | undefined,
  ) {
    this.startMonotonicMs = performance.now();
    const now = Date.now();
    this.clockOffsetMs = now - (this.startMonotonicMs + performance.timeOrigin);
    if (startTime === undefined || !isTimeInput(startTime)) {
      this.startEpochMs = now;
      this.explicitStart = undefined;
    } else {
      this.explicitStart = this.toHrTime(startTime);
      this.startEpochMs = hrTimeToMs(this.explicitStart);
    }
  }

  get resource(): Resource {
    return this.tracer.settings.resource;
  }

  get instrumentationScope(): InstrumentationScope {
    return this.tracer.instrumentationScope;
  }

  get startTime(): HrTime {
    return (this.startHr ??= this.explicitStart ?? millisToHrTime(this.startEpochMs));
  }

  /** [0, 0] until the span ends, as the SDK's */
  get endTime(): HrTime {
    if (this.endHr) return this.endHr;
    if (this.endGiven) return (this.endHr = this.endGiven);
    if (this.endAfterStartMs === undefined) return [0, 0];
    return (this.endHr = addHrTimes(this.startTime, millisToHrTime(this.endAfterStartMs)));
  }

  /** set from the moment end() is called (span processors' onEnding read it), [-1, -1] before */
  get duration(): HrTime {
    return this.endGiven || this.endAfterStartMs !== undefined ? hrTimeDuration(this.startTime, this.endTime) : [-1, -1];
  }

  spanContext(): SpanContext {
    return this.context;
  }

  isRecording(): boolean {
    return !this.ended;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (value == null || this.ended) return this;
    if (key.length === 0 || !isAttributeValue(value)) {
      diag.warn(`Invalid attribute ${key.length === 0 ? 'key' : `value set for key: ${key}`}`);
      return this;
    }
    const limits = this.tracer.settings.spanLimits;
    const isNew = !Object.prototype.hasOwnProperty.call(this.attributes, key);
    if (isNew && limits.attributeCountLimit !== undefined && this.attributeCount >= limits.attributeCountLimit) {
      this.droppedAttributesCount++;
      return this;
    }
    this.attributes[key] = truncated(value, limits.attributeValueLengthLimit);
    if (isNew) this.attributeCount++;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) {
      if (Object.prototype.hasOwnProperty.call(attributes, key)) this.setAttribute(key, attributes[key]);
    }
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    const limits = this.tracer.settings.spanLimits;
    if (limits.eventCountLimit === 0) {
      this.droppedEventsCount++;
      return this;
    }
    if (limits.eventCountLimit !== undefined && this.events.length >= limits.eventCountLimit) {
      this.events.shift();
      this.droppedEventsCount++;
    }
    let attributes: Attributes | undefined;
    if (isTimeInput(attributesOrTime)) {
      time ??= attributesOrTime;
    } else {
      attributes = attributesOrTime;
    }
    const kept = limitedAttributes(attributes, limits.attributePerEventCountLimit, limits.attributeValueLengthLimit);
    this.events.push({ name, attributes: kept.attributes, time: this.timeOf(time), droppedAttributesCount: kept.dropped });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) return this;
    const limits = this.tracer.settings.spanLimits;
    if (limits.linkCountLimit === 0) {
      this.droppedLinksCount++;
      return this;
    }
    if (limits.linkCountLimit !== undefined && this.links.length >= limits.linkCountLimit) {
      this.links.shift();
      this.droppedLinksCount++;
    }
    const kept = limitedAttributes(link.attributes, limits.attributePerLinkCountLimit, limits.attributeValueLengthLimit);
    const stored: Link & { droppedAttributesCount?: number } = { context: link.context };
    if (Object.keys(kept.attributes).length > 0) stored.attributes = kept.attributes;
    if (kept.dropped > 0) stored.droppedAttributesCount = kept.dropped;
    this.links.push(stored);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    // UNSET changes nothing and OK is final (the API's rule)
    if (this.ended || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    const next: SpanStatus = { code: status.code };
    if (status.code === SpanStatusCode.ERROR && typeof status.message === 'string') next.message = status.message;
    this.status = next;
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') {
      attributes['exception.message'] = exception;
    } else if (exception) {
      if (exception.code) attributes['exception.type'] = exception.code.toString();
      else if (exception.name) attributes['exception.type'] = exception.name;
      if (exception.message) attributes['exception.message'] = exception.message;
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    }
    if (attributes['exception.type'] || attributes['exception.message']) this.addEvent('exception', attributes, time);
    else diag.warn('Failed to record an exception with neither a type nor a message');
  }

  end(endTime?: TimeInput): void {
    if (this.ended) {
      diag.error(`${this.name} ${this.context.traceId}-${this.context.spanId} - You can only call end() on a span once.`);
      return;
    }
    // an invalid time (null, a string) means now, as the SDK reads it
    if ((endTime === undefined || !isTimeInput(endTime)) && !this.explicitStart) {
      this.endAfterStartMs = Math.max(0, performance.now() - this.startMonotonicMs);
    } else {
      const end = this.timeOf(isTimeInput(endTime) ? endTime : undefined);
      const inOrder = hrTimeToMs(end) >= hrTimeToMs(this.startTime);
      if (!inOrder) diag.warn('Inconsistent start and end time, startTime > endTime. Setting span duration to 0ms.');
      this.endGiven = inOrder ? end : this.startTime;
    }
    const processor = this.tracer.settings.spanProcessor;
    processor.onEnding?.(this);
    this.ended = true;
    processor.onEnd(this);
  }

  /** a time given to end or addEvent, or now: the start plus the monotonic time since, unless the start was given */
  private timeOf(input: TimeInput | undefined): HrTime {
    if (input !== undefined && isTimeInput(input)) return this.toHrTime(input);
    if (this.explicitStart) return millisToHrTime(Date.now());
    return millisToHrTime(this.startEpochMs + (performance.now() - this.startMonotonicMs));
  }

  /** a TimeInput as the SDK reads one: a number no later than performance.now() is a performance timestamp (placed with this span's clock offset), a larger one epoch ms */
  private toHrTime(input: TimeInput): HrTime {
    if (typeof input === 'number')
      return input <= performance.now() ? millisToHrTime(performance.timeOrigin + input + this.clockOffsetMs) : millisToHrTime(input);
    if (input instanceof Date) return millisToHrTime(input.getTime());
    return input;
  }
}

function isTimeInput(value: unknown): value is TimeInput {
  return typeof value === 'number' || value instanceof Date || isTimeInputHrTime(value);
}

function hrTimeToMs(time: HrTime): number {
  return time[0] * 1e3 + time[1] / 1e6;
}

/** a string cut to the limit; an array always copied (as the SDK stores one: the caller may change its own later) */
function truncated(value: AttributeValue, limit: number | undefined): AttributeValue {
  if (Array.isArray(value) && (limit === undefined || limit === Infinity || limit <= 0)) return value.slice();
  if (limit === undefined || limit === Infinity || limit <= 0) return value;
  if (typeof value === 'string') return value.length <= limit ? value : value.substring(0, limit);
  if (Array.isArray(value))
    return value.map((item: unknown) =>
      typeof item === 'string' && item.length > limit ? item.substring(0, limit) : item,
    ) as AttributeValue;
  return value;
}

function limitedAttributes(
  attributes: Attributes | undefined,
  countLimit: number | undefined,
  lengthLimit: number | undefined,
): { attributes: Attributes; dropped: number } {
  const kept: Attributes = {};
  let count = 0;
  let dropped = 0;
  for (const key in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
    const value = attributes[key];
    // as the SDK's sanitizeAttributes: an empty key or a non-attribute value is left out, a null or undefined one kept
    if (key.length === 0 || !isAttributeValue(value)) continue;
    if (countLimit !== undefined && count >= countLimit) {
      dropped++;
      continue;
    }
    kept[key] = truncated(value, lengthLimit);
    count++;
  }
  return { attributes: kept, dropped };
}
