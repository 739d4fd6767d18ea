import { context, diag, DiagLogLevel, metrics, propagation, trace, type DiagLogger } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { containerDetector } from '@opentelemetry/resource-detector-container';
import {
  detectResources,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
  type Resource,
} from '@opentelemetry/resources';
import type { LoggerProvider, LogRecordExporter } from '@opentelemetry/sdk-logs';
import {
  AggregationType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type IMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  NoopSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { loadTelemetryConfig, type TelemetryConfig } from '../config/telemetry-config';
import { SERVICE_VERSION } from '../common/version';
import { enableHttpServerSpans, HTTP_SERVER_TRACER_NAME } from './http-server-span';
import { NEST_TRACER_NAME, traceNestRequests } from './nest-spans';
import { preAggregatedSeries } from './pre-aggregated-series';
import { RedactingSpanExporter } from './redacting-span-exporter';
import { ATTR_DEPLOYMENT_ENVIRONMENT_NAME, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from './semconv';
import { ServiceTracerProvider } from './service-tracer';
import { TRACER_NAME } from './spans';
import { tenantScopedSeries } from './tenant-series';

export { isProbePath } from './http-server-span';

interface TelemetryRuntime {
  config: TelemetryConfig;
  /** flushes and stops the providers; unset once called, and when telemetry is off */
  shutdown?: () => Promise<void>;
  prometheus?: PrometheusExporter;
}

let runtime: TelemetryRuntime | undefined;

/**
 * Starts the OpenTelemetry SDK before anything else is required: resource, the instrumentations
 * that earn their keep, a Prometheus reader (served by metrics-server.ts on METRICS_PORT), and OTLP exporters
 * for traces, metrics and logs when an endpoint is configured.
 */
export function startTelemetry(config: TelemetryConfig = loadTelemetryConfig()): TelemetryRuntime {
  if (runtime) return runtime;
  if (config.disabled) {
    runtime = { config };
    return runtime;
  }
  diag.setLogger(jsonDiagLogger, DiagLogLevel.WARN);

  // the series labelled by kb_id / tenant_id come from a producer that can drop them (tenant-series.ts)
  // and the families recorded on every request, pre-aggregated (pre-aggregated-series.ts)
  const perRequest = preAggregatedSeries();
  perRequest.enable();
  const metricProducers = [tenantScopedSeries(), perRequest];
  const prometheus = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, metricProducers });
  const metricReaders: IMetricReader[] = [prometheus];
  if (config.otlp.metrics) {
    metricReaders.push(
      new PeriodicExportingMetricReader({
        exporter: otlpMetricExporter(config),
        exportIntervalMillis: config.metricExportIntervalMs,
        metricProducers,
      }),
    );
  }

  // The providers are put together here rather than by @opentelemetry/sdk-node's NodeSDK, which
  // requires every exporter it could build from the environment (gRPC, Zipkin, ...) when loaded:
  // ~2 s of start-up and ~20 MiB of RSS on a busy 2-core machine, for exporters never used.
  // What NodeSDK.start() did: detected resource, W3C propagators, AsyncLocalStorage context, the
  // providers registered globally before the instrumentations are made (so they find the meter).
  const resource = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: config.serviceName,
    [ATTR_SERVICE_VERSION]: SERVICE_VERSION,
    ...(config.environment && { [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: config.environment }),
  }).merge(detectResources({ detectors: [envDetector, hostDetector, processDetector, containerDetector] }));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));

  const meterProvider = new MeterProvider({
    resource,
    readers: metricReaders,
    views: [
      // node:http's and undici's instrumentations both record `http.client.request.duration`;
      // without scope labels Prometheus text would carry that family twice, which fails the whole
      // scrape. Outgoing calls that matter (LLM, embeddings, reranker, Qdrant) go through undici.
      { meterName: '@opentelemetry/instrumentation-http', instrumentName: 'http.client.*', aggregation: { type: AggregationType.DROP } },
    ],
  });
  metrics.setGlobalMeterProvider(meterProvider);

  // sampler (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG) and span limits are read from the environment by the provider.
  // One processor per span; secrets are masked only in spans that are exported (otlpSpanProcessor).
  // Without a traces endpoint a no-op processor still gives every request a real trace id
  // (X-Trace-ID, log correlation).
  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [config.otlp.traces ? otlpSpanProcessor(config, config.otlp.traces) : new NoopSpanProcessor()],
  });
  // the service's own spans (its steps, the HTTP server span, Nest's) through a lighter span, same pipeline
  trace.setGlobalTracerProvider(
    new ServiceTracerProvider(tracerProvider, new Set([TRACER_NAME, HTTP_SERVER_TRACER_NAME, NEST_TRACER_NAME])),
  );

  const loggerProvider = config.otlp.logs ? otlpLoggerProvider(config, resource) : undefined;
  if (loggerProvider) logs.setGlobalLoggerProvider(loggerProvider);

  // made after the providers are registered: each instrumentation patches its module now and takes the global meter
  const instrumentations = getNodeAutoInstrumentations({
    '@opentelemetry/instrumentation-http': {
      // outgoing calls only: the server span is the observability middleware's (http-server-span.ts),
      // which asks the sampler before building anything, so a sampled-out request costs next to
      // nothing; http.server.request.duration comes from the guide's measurement (app-metrics.ts).
      // The metrics listener (Prometheus scrapes) is never traced.
      disableIncomingRequestInstrumentation: true,
    },
    // the same controller and handler spans, made only under a parent that records (nest-spans.ts)
    '@opentelemetry/instrumentation-nestjs-core': { enabled: false },
    // Nest's controller and handler spans already name every request's work, and the HTTP
    // server span gets its route from our middleware: Express's layer spans repeated them for
    // ~5 % of the throughput (bench:otel). Listing `express` in OTEL_NODE_ENABLED_INSTRUMENTATIONS
    // brings its router and handler spans back.
    '@opentelemetry/instrumentation-express': {
      enabled: config.expressLayerSpans ? undefined : false,
      ignoreLayersType: [ExpressLayerType.MIDDLEWARE],
    },
    '@opentelemetry/instrumentation-winston': {
      // trace ids are added by our own log format; records go to the OTel logs SDK only when exported
      disableLogCorrelation: true,
      disableLogSending: !config.otlp.logs,
    },
    '@opentelemetry/instrumentation-fs': { enabled: false },
    '@opentelemetry/instrumentation-dns': { enabled: false },
    '@opentelemetry/instrumentation-net': { enabled: false },
    '@opentelemetry/instrumentation-generic-pool': { enabled: false },
    '@opentelemetry/instrumentation-router': { enabled: false },
    '@opentelemetry/instrumentation-connect': { enabled: false },
    '@opentelemetry/instrumentation-runtime-node': { enabled: false },
  });
  for (const instrumentation of instrumentations) {
    instrumentation.setTracerProvider(tracerProvider);
    instrumentation.setMeterProvider(meterProvider);
    if (loggerProvider) instrumentation.setLoggerProvider?.(loggerProvider);
  }
  if (config.httpServerSpans) enableHttpServerSpans();
  if (config.nestSpans) traceNestRequests();

  const shutdown = async () => {
    await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown(), loggerProvider?.shutdown()]);
  };
  runtime = { config, shutdown, prometheus };
  return runtime;
}

export function telemetryRuntime(): TelemetryRuntime | undefined {
  return runtime;
}

/** Flushes and stops exporters; called once at shutdown. */
export async function shutdownTelemetry(): Promise<void> {
  const shutdown = runtime?.shutdown;
  if (!shutdown) return;
  runtime = { config: runtime!.config, prometheus: runtime!.prometheus };
  await shutdown().catch(() => undefined);
}

/* eslint-disable @typescript-eslint/no-require-imports -- exporters load only for the protocol in use */
/** gRPC or http/json (http/protobuf has its own processor, otlpSpanProcessor) */
function otlpTraceExporter(config: TelemetryConfig, url: string): SpanExporter {
  if (config.otlp.protocol === 'grpc')
    return new (
      require('@opentelemetry/exporter-trace-otlp-grpc') as typeof import('@opentelemetry/exporter-trace-otlp-grpc')
    ).OTLPTraceExporter({ url });
  return new (
    require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http')
  ).OTLPTraceExporter({ url });
}

/**
 * http/protobuf, the default: spans are masked and encoded as they end, and only their bytes wait
 * for the batch (otlp-span-processor.ts); gRPC and http/json: the SDK's batch processor in front of
 * the stock exporter, masked per batch.
 */
function otlpSpanProcessor(config: TelemetryConfig, url: string): SpanProcessor {
  if (config.otlp.protocol === 'http/protobuf') {
    const { OtlpProtoSpanProcessor, otlpProtoTraceDelegate } = require('./otlp-span-processor') as typeof import('./otlp-span-processor');
    return new OtlpProtoSpanProcessor(otlpProtoTraceDelegate(url), config.traceBatch);
  }
  return new BatchSpanProcessor(new RedactingSpanExporter(otlpTraceExporter(config, url)));
}

function otlpMetricExporter(config: TelemetryConfig): PushMetricExporter {
  const url = config.otlp.metrics;
  if (config.otlp.protocol === 'grpc')
    return new (
      require('@opentelemetry/exporter-metrics-otlp-grpc') as typeof import('@opentelemetry/exporter-metrics-otlp-grpc')
    ).OTLPMetricExporter({ url });
  if (config.otlp.protocol === 'http/json')
    return new (
      require('@opentelemetry/exporter-metrics-otlp-http') as typeof import('@opentelemetry/exporter-metrics-otlp-http')
    ).OTLPMetricExporter({ url });
  return new (
    require('@opentelemetry/exporter-metrics-otlp-proto') as typeof import('@opentelemetry/exporter-metrics-otlp-proto')
  ).OTLPMetricExporter({ url });
}

/** the logs SDK is loaded only when log records are exported */
function otlpLoggerProvider(config: TelemetryConfig, resource: Resource): LoggerProvider {
  const sdkLogs = require('@opentelemetry/sdk-logs') as typeof import('@opentelemetry/sdk-logs');
  return new sdkLogs.LoggerProvider({ resource, processors: [new sdkLogs.BatchLogRecordProcessor({ exporter: otlpLogExporter(config) })] });
}

function otlpLogExporter(config: TelemetryConfig): LogRecordExporter {
  const url = config.otlp.logs;
  if (config.otlp.protocol === 'grpc')
    return new (
      require('@opentelemetry/exporter-logs-otlp-grpc') as typeof import('@opentelemetry/exporter-logs-otlp-grpc')
    ).OTLPLogExporter({ url });
  if (config.otlp.protocol === 'http/json')
    return new (
      require('@opentelemetry/exporter-logs-otlp-http') as typeof import('@opentelemetry/exporter-logs-otlp-http')
    ).OTLPLogExporter({ url });
  return new (
    require('@opentelemetry/exporter-logs-otlp-proto') as typeof import('@opentelemetry/exporter-logs-otlp-proto')
  ).OTLPLogExporter({ url });
}
/* eslint-enable @typescript-eslint/no-require-imports */

/** The SDK's own warnings, in the service's JSON log shape. */
const jsonDiagLogger: DiagLogger = (() => {
  const write =
    (level: string) =>
    (message: string, ...args: unknown[]) =>
      // a scrape in the first instants reads the resource while the host/container detectors finish: harmless
      message.startsWith('Accessing resource attributes before async attributes settled') ||
      process.stderr.write(
        `${JSON.stringify({ timestamp: new Date().toISOString(), level, logger: 'opentelemetry', message: [message, ...args.map(String)].join(' ').slice(0, 2000) })}\n`,
      );
  return { error: write('ERROR'), warn: write('WARN'), info: write('INFO'), debug: write('DEBUG'), verbose: write('DEBUG') };
})();
