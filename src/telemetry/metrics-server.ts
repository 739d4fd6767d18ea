import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROBLEM_TYPE_BASE } from '../common/problem';
import { telemetryRuntime } from './sdk';

export const METRICS_PATH = '/metrics';

/**
 * `GET /metrics` on a listener of its own (METRICS_PORT), not on the API port: the business gauges
 * and retrieval counters name tenants and knowledge bases, so only what may reach this port
 * (Prometheus, through the chart's NetworkPolicy) sees them. Every other path is a 404.
 */
export async function startMetricsServer(port: number, host: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== METRICS_PATH || (req.method !== 'GET' && req.method !== 'HEAD')) {
      notFound(res, path);
      return;
    }
    const prometheus = telemetryRuntime()?.prometheus;
    if (!prometheus) {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end('# telemetry is disabled (OTEL_SDK_DISABLED=true)\n');
      return;
    }
    prometheus.getMetricsRequestHandler(req, res);
  });
  // a scraper holds one keep-alive connection; nothing else should linger
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // scrapes are neither traced nor counted: the server span and the HTTP metrics are the API's middleware's
  return server;
}

export function listeningPort(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}

export function closeMetricsServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function notFound(res: http.ServerResponse, path: string): void {
  const problem = {
    type: `${PROBLEM_TYPE_BASE}not-found`,
    title: 'Not Found',
    status: 404,
    detail: `this listener serves only GET ${METRICS_PATH}`,
    instance: path.slice(0, 200),
  };
  res.writeHead(404, { 'content-type': 'application/problem+json' }).end(JSON.stringify(problem));
}
