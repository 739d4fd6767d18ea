import * as http from 'node:http';
import * as zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';

/** Spans, metrics and log records as received, flattened from OTLP/HTTP JSON requests. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  attributes: Record<string, unknown>;
  links?: Array<{ traceId: string; spanId: string }>;
  status?: { code?: number };
  resource: Record<string, unknown>;
}
export interface ReceivedLog {
  traceId?: string;
  spanId?: string;
  body: unknown;
  severityText?: string;
  attributes: Record<string, unknown>;
}

export interface OtlpReceiver {
  endpoint: string;
  spans: ReceivedSpan[];
  metricNames: Set<string>;
  logs: ReceivedLog[];
  requests: Array<{ path: string; contentType?: string }>;
  close(): Promise<void>;
}

type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
};
type KeyValue = { key: string; value: AnyValue };

function value(v: AnyValue | undefined): unknown {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  if (v.kvlistValue) return attributes(v.kvlistValue.values);
  return undefined;
}

function attributes(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));
}

/**
 * An OTLP/HTTP receiver speaking the JSON encoding (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`) on
 * /v1/traces, /v1/metrics and /v1/logs, as a Collector's otlp receiver does.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const receiver: Omit<OtlpReceiver, 'endpoint' | 'close'> = { spans: [], metricNames: new Set(), logs: [], requests: [] };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = zlib.gunzipSync(raw);
      receiver.requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] });
      try {
        const body = JSON.parse(raw.toString('utf8'));
        if (req.url === '/v1/traces') {
          for (const rs of body.resourceSpans ?? []) {
            const resource = attributes(rs.resource?.attributes);
            for (const ss of rs.scopeSpans ?? []) {
              for (const s of ss.spans ?? []) {
                receiver.spans.push({
                  traceId: s.traceId,
                  spanId: s.spanId,
                  parentSpanId: s.parentSpanId || undefined,
                  name: s.name,
                  kind: s.kind,
                  attributes: attributes(s.attributes),
                  links: s.links,
                  status: s.status,
                  resource,
                });
              }
            }
          }
        } else if (req.url === '/v1/metrics') {
          for (const rm of body.resourceMetrics ?? [])
            for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) receiver.metricNames.add(m.name);
        } else if (req.url === '/v1/logs') {
          for (const rl of body.resourceLogs ?? []) {
            for (const sl of rl.scopeLogs ?? []) {
              for (const l of sl.logRecords ?? []) {
                receiver.logs.push({
                  traceId: l.traceId || undefined,
                  spanId: l.spanId || undefined,
                  body: value(l.body),
                  severityText: l.severityText,
                  attributes: attributes(l.attributes),
                });
              }
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch (error) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ message: (error as Error).message }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...receiver,
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
