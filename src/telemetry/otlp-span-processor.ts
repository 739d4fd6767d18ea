import { context, diag, ROOT_CONTEXT, TraceFlags, type Context } from '@opentelemetry/api';
import { ExportResultCode, globalErrorHandler, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import { ProtobufTraceSerializer, type IExportTraceServiceResponse, type ISerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { TraceBatchSettings } from '../config/telemetry-config';
import { TraceRequestBuilder } from './otlp-trace-encoder';
import { redactSpan } from './redacting-span-exporter';

/** a sealed batch: its encoded request and how many spans it holds */
export interface EncodedTraceBatch {
  bytes: Uint8Array;
  spanCount: number;
}

/**
 * The batch span processor of the default OTLP/HTTP protobuf export, in place of the SDK's
 * BatchSpanProcessor and OTLP exporter, with the same settings (OTEL_BSP_*) and the stock transport
 * (OTEL_EXPORTER_OTLP_* headers, timeout, compression, retries).
 *
 * The difference: a sampled span is masked (redactSpan) and encoded when it ends, and only its
 * bytes wait for the batch. The SDK's processor kept each span object for up to a batch (512 spans,
 * ~60 ms at full load); those objects outlived a scavenge or two, and copying and promoting them
 * was a large part of the garbage collector's cost at 100 % sampling. One batch is sent at a time,
 * as the SDK's processor does; spans that end while `maxQueueSize` spans wait are dropped and
 * counted.
 */
export class OtlpProtoSpanProcessor implements SpanProcessor {
  private pending = new TraceRequestBuilder();
  /** full or timed-out batches, oldest first, not sent yet */
  private readonly sealed: TraceRequestBuilder[] = [];
  /** builders of sent batches, kept for their buffers */
  private readonly spare: TraceRequestBuilder[] = [];
  private queuedSpans = 0;
  private droppedSpans = 0;
  private timer: NodeJS.Timeout | undefined;
  /** set before a batch is handed to the transport, cleared when it has answered (or timed out) */
  private inFlight: Promise<void> | undefined;
  private shuttingDown: Promise<void> | undefined;

  constructor(
    private readonly delegate: IOtlpExportDelegate<EncodedTraceBatch>,
    private readonly options: TraceBatchSettings,
  ) {}

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    // as the SDK's batch processor: nothing is taken once shutdown has begun
    if (this.shuttingDown || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.queuedSpans >= this.options.maxQueueSize) {
      if (this.droppedSpans++ === 0) diag.warn('OtlpProtoSpanProcessor: maxQueueSize reached, dropping spans');
      return;
    }
    try {
      redactSpan(span);
      this.pending.add(span);
    } catch (error) {
      // a span the encoder cannot read (another instrumentation's malformed link, say) is lost on
      // its own; it must not throw into the code that ended it
      reportError(error);
      return;
    }
    this.queuedSpans++;
    if (this.pending.spanCount >= this.options.maxExportBatchSize) {
      this.seal();
      this.drain();
    } else if (!this.timer) {
      // made in the root context: the timer must not hold (or export under) the request that ended the span
      this.timer = context.with(ROOT_CONTEXT, () =>
        setTimeout(() => {
          this.timer = undefined;
          this.seal();
          this.drain();
        }, this.options.scheduledDelayMillis).unref(),
      );
    }
  }

  async forceFlush(): Promise<void> {
    this.seal();
    while (this.sealed.length > 0 || this.inFlight) {
      this.drain();
      await this.inFlight;
    }
  }

  shutdown(): Promise<void> {
    this.shuttingDown ??= (async () => {
      await this.forceFlush();
      if (this.timer) clearTimeout(this.timer);
      await this.delegate.shutdown();
    })();
    return this.shuttingDown;
  }

  private seal(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.spanCount === 0) return;
    this.sealed.push(this.pending);
    this.pending = this.spare.pop() ?? new TraceRequestBuilder();
  }

  /** sends the oldest sealed batch unless one is on its way; each completion sends the next */
  private drain(): void {
    if (this.inFlight) return;
    const batch = this.sealed.shift();
    if (!batch) return;
    const spanCount = batch.spanCount;
    // in flight before the transport is called: a span it ends synchronously must not start a second export
    let settled!: () => void;
    this.inFlight = new Promise<void>((resolve) => (settled = resolve));
    void this.send(batch).then(() => {
      this.queuedSpans -= spanCount;
      batch.reset();
      if (this.spare.length < 2) this.spare.push(batch);
      if (this.droppedSpans > 0) {
        diag.warn(`OtlpProtoSpanProcessor: dropped ${this.droppedSpans} spans because maxQueueSize was reached`);
        this.droppedSpans = 0;
      }
      this.inFlight = undefined;
      settled();
      this.drain();
    });
  }

  private async send(batch: TraceRequestBuilder): Promise<void> {
    // as the SDK's batch processor: resource attributes still being detected (host.id, …) are awaited
    const pending: Array<Promise<void>> = [];
    for (const resource of batch.resources()) {
      if (resource.asyncAttributesPending && resource.waitForAsyncAttributes) pending.push(resource.waitForAsyncAttributes());
    }
    if (pending.length > 0) await Promise.all(pending).catch(reportError);
    let request: EncodedTraceBatch;
    try {
      request = { bytes: batch.build(), spanCount: batch.spanCount };
    } catch (error) {
      reportError(error);
      return;
    }
    await new Promise<void>((resolve) => {
      let done = false;
      const finish = (result: ExportResult) => {
        if (done) return;
        done = true;
        clearTimeout(timeout);
        resolve();
        if (result.code !== ExportResultCode.SUCCESS) reportError(result.error ?? new Error('OtlpProtoSpanProcessor: the export failed'));
      };
      const timeout = setTimeout(
        () => finish({ code: ExportResultCode.FAILED, error: new Error('Timeout') }),
        this.options.exportTimeoutMillis,
      ).unref();
      // the export's own HTTP call is not traced (it would end a span into the next batch, forever)
      context.with(suppressTracing(ROOT_CONTEXT), () => {
        try {
          this.delegate.export(request, finish);
        } catch (error) {
          finish({ code: ExportResultCode.FAILED, error: error as Error });
        }
      });
    });
  }
}

/** to the global error handler, which must not stop the processor by throwing */
function reportError(error: unknown): void {
  try {
    globalErrorHandler(error instanceof Error ? error : new Error(String(error)));
  } catch {
    // a custom handler that throws: the error is already as reported as it can be
  }
}

/**
 * The stock OTLP/HTTP transport (what `@opentelemetry/exporter-trace-otlp-proto` is made of) for
 * requests already encoded. `url` is the full traces endpoint.
 */
export function otlpProtoTraceDelegate(url: string): IOtlpExportDelegate<EncodedTraceBatch> {
  // a subpath export, which this project's module resolution does not follow for types
  const { convertLegacyHttpOptions, createOtlpHttpExportDelegate } =
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@opentelemetry/otlp-exporter-base/node-http') as typeof import('@opentelemetry/otlp-exporter-base/build/src/index-node-http');
  const serializer: ISerializer<EncodedTraceBatch, IExportTraceServiceResponse> = {
    serializeRequest: (batch) => batch.bytes,
    deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
  };
  return createOtlpHttpExportDelegate(
    convertLegacyHttpOptions({ url }, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }),
    serializer,
    'otlp_http_span_exporter',
    { name: 'span', countItems: (batch) => batch.spanCount },
    undefined,
  );
}
