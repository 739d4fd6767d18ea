/** Telemetry settings, read from the standard OTEL_* variables (the SDK also reads some itself). */
export interface TelemetryConfig {
  disabled: boolean;
  serviceName: string;
  /** OTLP endpoints per signal; unset = that signal is not exported over OTLP */
  otlp: { traces?: string; metrics?: string; logs?: string; protocol: 'http/protobuf' | 'http/json' | 'grpc' };
  metricExportIntervalMs: number;
  /** record prompt and document text on spans (off unless opted in) */
  captureContent: boolean;
  environment?: string;
  /** Express's router/handler spans: only when OTEL_NODE_ENABLED_INSTRUMENTATIONS lists `express` */
  expressLayerSpans: boolean;
  /**
   * The service's own HTTP server spans and Nest controller/handler spans, which stand in for
   * instrumentation-http's server side and instrumentation-nestjs-core: on unless the
   * auto-instrumentations' variables leave out `http` or `nestjs-core`
   */
  httpServerSpans: boolean;
  nestSpans: boolean;
  /** the batch span processor's settings (OTEL_BSP_*, the SDK's names and defaults) */
  traceBatch: TraceBatchSettings;
}

export interface TraceBatchSettings {
  /** OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512 (at most maxQueueSize) */
  maxExportBatchSize: number;
  /** OTEL_BSP_SCHEDULE_DELAY, 5000 ms */
  scheduledDelayMillis: number;
  /** OTEL_BSP_MAX_QUEUE_SIZE, 2048: spans waiting past this are dropped */
  maxQueueSize: number;
  /** OTEL_BSP_EXPORT_TIMEOUT, 30000 ms */
  exportTimeoutMillis: number;
}

type Env = Record<string, string | undefined>;

const SIGNAL_PATHS = { traces: 'v1/traces', metrics: 'v1/metrics', logs: 'v1/logs' } as const;

export function loadTelemetryConfig(env: Env = process.env): TelemetryConfig {
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim().replace(/\/+$/, '');
  const protocolRaw = (env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
  const protocol = protocolRaw === 'grpc' || protocolRaw === 'http/json' ? protocolRaw : 'http/protobuf';
  const endpoint = (signal: keyof typeof SIGNAL_PATHS): string | undefined => {
    const own = env[`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`]?.trim();
    if (own) return own;
    if (!base) return undefined;
    return protocol === 'grpc' ? base : `${base}/${SIGNAL_PATHS[signal]}`;
  };
  const exporterOff = (signal: string) =>
    (env[`OTEL_${signal}_EXPORTER`] ?? '')
      .split(',')
      .map((s) => s.trim())
      .includes('none');
  const listed = (variable: string, name: string) =>
    (env[variable] ?? '').split(',').some((item) => [name, `@opentelemetry/instrumentation-${name}`].includes(item.trim()));
  const instrumented = (name: string) =>
    (!env.OTEL_NODE_ENABLED_INSTRUMENTATIONS?.trim() || listed('OTEL_NODE_ENABLED_INSTRUMENTATIONS', name)) &&
    !listed('OTEL_NODE_DISABLED_INSTRUMENTATIONS', name);
  return {
    disabled: (env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true',
    serviceName: env.OTEL_SERVICE_NAME?.trim() || 'self-rag-pipeline',
    otlp: {
      traces: exporterOff('TRACES') ? undefined : endpoint('traces'),
      metrics: exporterOff('METRICS') ? undefined : endpoint('metrics'),
      logs: exporterOff('LOGS') ? undefined : endpoint('logs'),
      protocol,
    },
    metricExportIntervalMs: Number(env.OTEL_METRIC_EXPORT_INTERVAL) > 0 ? Number(env.OTEL_METRIC_EXPORT_INTERVAL) : 15_000,
    captureContent: (env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT ?? '').trim().toLowerCase() === 'true',
    environment: env.DEPLOYMENT_ENVIRONMENT?.trim() || undefined,
    expressLayerSpans: listed('OTEL_NODE_ENABLED_INSTRUMENTATIONS', 'express'),
    httpServerSpans: instrumented('http'),
    nestSpans: instrumented('nestjs-core'),
    traceBatch: traceBatchSettings(env),
  };
}

function traceBatchSettings(env: Env): TraceBatchSettings {
  const positive = (name: string, fallback: number) => {
    const value = Number(env[name]?.trim() || NaN);
    return Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback;
  };
  const maxQueueSize = positive('OTEL_BSP_MAX_QUEUE_SIZE', 2048);
  return {
    maxQueueSize,
    maxExportBatchSize: Math.min(positive('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512), maxQueueSize),
    scheduledDelayMillis: positive('OTEL_BSP_SCHEDULE_DELAY', 5000),
    exportTimeoutMillis: positive('OTEL_BSP_EXPORT_TIMEOUT', 30_000),
  };
}
