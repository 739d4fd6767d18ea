import { diag, TraceFlags, type Context } from '@opentelemetry/api';
import { ExportResultCode, globalErrorHandler, type ExportResult } from '@opentelemetry/core';
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
  private readonly pending = new TraceRequestBuilder();
  private readonly sealed: EncodedTraceBatch[] = [];
  private queuedSpans = 0;
  private droppedSpans = 0;
  private timer: NodeJS.Timeout | undefined;
  private exporting: Promise<void> | undefined;
  private shutDown = false;

  constructor(
    private readonly delegate: IOtlpExportDelegate<EncodedTraceBatch>,
    private readonly options: TraceBatchSettings,
  ) {}

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.shutDown || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.queuedSpans >= this.options.maxQueueSize) {
      if (this.droppedSpans++ === 0) diag.warn('OtlpProtoSpanProcessor: maxQueueSize reached, dropping spans');
      return;
    }
    redactSpan(span);
    this.pending.add(span);
    this.queuedSpans++;
    if (this.pending.spanCount >= this.options.maxExportBatchSize) {
      this.seal();
      this.drain();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.seal();
        this.drain();
      }, this.options.scheduledDelayMillis).unref();
    }
  }

  async forceFlush(): Promise<void> {
    this.seal();
    while (this.sealed.length > 0 || this.exporting) {
      this.drain();
      await this.exporting;
    }
  }

  async shutdown(): Promise<void> {
    if (this.shutDown) return;
    await this.forceFlush();
    this.shutDown = true;
    if (this.timer) clearTimeout(this.timer);
    await this.delegate.shutdown();
  }

  private seal(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.spanCount === 0) return;
    this.sealed.push({ bytes: this.pending.build(), spanCount: this.pending.spanCount });
    this.pending.reset();
  }

  /** sends the oldest sealed batch unless one is on its way; each completion sends the next */
  private drain(): void {
    if (this.exporting) return;
    const batch = this.sealed.shift();
    if (!batch) return;
    this.exporting = this.send(batch).then(() => {
      this.queuedSpans -= batch.spanCount;
      if (this.droppedSpans > 0) {
        diag.warn(`OtlpProtoSpanProcessor: dropped ${this.droppedSpans} spans because maxQueueSize was reached`);
        this.droppedSpans = 0;
      }
      this.exporting = undefined;
      this.drain();
    });
  }

  private send(batch: EncodedTraceBatch): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = (result: ExportResult) => {
        if (done) return;
        done = true;
        clearTimeout(timeout);
        if (result.code !== ExportResultCode.SUCCESS) {
          globalErrorHandler(result.error ?? new Error('OtlpProtoSpanProcessor: the export failed'));
        }
        resolve();
      };
      const timeout = setTimeout(
        () => finish({ code: ExportResultCode.FAILED, error: new Error('Timeout') }),
        this.options.exportTimeoutMillis,
      ).unref();
      try {
        this.delegate.export(batch, finish);
      } catch (error) {
        finish({ code: ExportResultCode.FAILED, error: error as Error });
      }
    });
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
