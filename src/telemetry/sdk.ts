import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { containerDetector } from '@opentelemetry/resource-detector-container';
import { envDetector, hostDetector, processDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { AggregationType, PeriodicExportingMetricReader, type IMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, NoopSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { loadTelemetryConfig, type TelemetryConfig } from '../config/telemetry-config';
import { SERVICE_VERSION } from '../common/version';
import { RedactingSpanProcessor } from './redacting-span-processor';
import { tenantScopedSeries } from './tenant-series';

interface TelemetryRuntime {
  config: TelemetryConfig;
  sdk?: NodeSDK;
  prometheus?: PrometheusExporter;
}

let runtime: TelemetryRuntime | undefined;

/** The metrics listener's port: its requests (Prometheus scrapes) are not traced. */
let metricsListenerPort: number | undefined;
export function ignoreRequestsOnPort(port: number): void {
  metricsListenerPort = port;
}

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
  const metricProducers = [tenantScopedSeries()];
  const prometheus = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, metricProducers });
  const metricReaders: IMetricReader[] = [prometheus];
  if (config.otlp.metrics) {
    metricReaders.push(
      new PeriodicExportingMetricReader({ exporter: otlpMetricExporter(config), exportIntervalMillis: config.metricExportIntervalMs, metricProducers }),
    );
  }

  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': config.serviceName,
      'service.version': SERVICE_VERSION,
      ...(config.environment && { 'deployment.environment.name': config.environment }),
    }),
    resourceDetectors: [envDetector, hostDetector, processDetector, containerDetector],
    // a no-op processor still gives every request a real trace id (X-Trace-ID, log correlation)
    spanProcessors: [
      new RedactingSpanProcessor(),
      config.otlp.traces ? new BatchSpanProcessor(otlpTraceExporter(config)) : new NoopSpanProcessor(),
    ],
    metricReaders,
    views: [
      // node:http's and undici's instrumentations both record `http.client.request.duration`;
      // without scope labels Prometheus text would carry that family twice, which fails the whole
      // scrape. Outgoing calls that matter (LLM, embeddings, reranker, Qdrant) go through undici.
      { meterName: '@opentelemetry/instrumentation-http', instrumentName: 'http.client.*', aggregation: { type: AggregationType.DROP } },
    ],
    logRecordProcessors: config.otlp.logs ? [new BatchLogRecordProcessor({ exporter: otlpLogExporter(config) })] : [],
    instrumentations: [
      getNodeAutoInstrumentations({
        '@opentelemetry/instrumentation-http': {
          ignoreIncomingRequestHook: (request) => metricsListenerPort !== undefined && request.socket?.localPort === metricsListenerPort,
        },
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
      }),
    ],
  });
  sdk.start();
  runtime = { config, sdk, prometheus };
  return runtime;
}

export function telemetryRuntime(): TelemetryRuntime | undefined {
  return runtime;
}

/** Flushes and stops exporters; called once at shutdown. */
export async function shutdownTelemetry(): Promise<void> {
  const sdk = runtime?.sdk;
  if (!sdk) return;
  runtime = { config: runtime!.config, prometheus: runtime!.prometheus };
  await sdk.shutdown().catch(() => undefined);
}

/* eslint-disable @typescript-eslint/no-require-imports -- exporters load only for the protocol in use */
function otlpTraceExporter(config: TelemetryConfig): SpanExporter {
  const url = config.otlp.traces;
  if (config.otlp.protocol === 'grpc') return new (require('@opentelemetry/exporter-trace-otlp-grpc') as typeof import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter({ url });
  if (config.otlp.protocol === 'http/json') return new (require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({ url });
  return new (require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter({ url });
}

function otlpMetricExporter(config: TelemetryConfig): PushMetricExporter {
  const url = config.otlp.metrics;
  if (config.otlp.protocol === 'grpc') return new (require('@opentelemetry/exporter-metrics-otlp-grpc') as typeof import('@opentelemetry/exporter-metrics-otlp-grpc')).OTLPMetricExporter({ url });
  if (config.otlp.protocol === 'http/json') return new (require('@opentelemetry/exporter-metrics-otlp-http') as typeof import('@opentelemetry/exporter-metrics-otlp-http')).OTLPMetricExporter({ url });
  return new (require('@opentelemetry/exporter-metrics-otlp-proto') as typeof import('@opentelemetry/exporter-metrics-otlp-proto')).OTLPMetricExporter({ url });
}

function otlpLogExporter(config: TelemetryConfig): LogRecordExporter {
  const url = config.otlp.logs;
  if (config.otlp.protocol === 'grpc') return new (require('@opentelemetry/exporter-logs-otlp-grpc') as typeof import('@opentelemetry/exporter-logs-otlp-grpc')).OTLPLogExporter({ url });
  if (config.otlp.protocol === 'http/json') return new (require('@opentelemetry/exporter-logs-otlp-http') as typeof import('@opentelemetry/exporter-logs-otlp-http')).OTLPLogExporter({ url });
  return new (require('@opentelemetry/exporter-logs-otlp-proto') as typeof import('@opentelemetry/exporter-logs-otlp-proto')).OTLPLogExporter({ url });
}
/* eslint-enable @typescript-eslint/no-require-imports */

/** The SDK's own warnings, in the service's JSON log shape. */
const jsonDiagLogger: DiagLogger = (() => {
  const write = (level: string) => (message: string, ...args: unknown[]) =>
    // a scrape in the first instants reads the resource while the host/container detectors finish: harmless
    message.startsWith('Accessing resource attributes before async attributes settled') ||
    process.stderr.write(
      `${JSON.stringify({ timestamp: new Date().toISOString(), level, logger: 'opentelemetry', message: [message, ...args.map(String)].join(' ').slice(0, 2000) })}\n`,
    );
  return { error: write('ERROR'), warn: write('WARN'), info: write('INFO'), debug: write('DEBUG'), verbose: write('DEBUG') };
})();
