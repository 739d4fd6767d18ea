import { Logger } from '@nestjs/common';
import { context, trace } from '@opentelemetry/api';
import type { NextFunction, Request, Response } from 'express';
import { currentRequestContext } from '../common/request-context';
import { appMetrics } from './app-metrics';
import { endServerSpan, isProbePath, startServerSpan } from './http-server-span';

const accessLog = new Logger('http.access');

/**
 * Per request: the server span (http-server-span.ts; none for probes), its trace id in `X-Trace-ID`
 * and `traceparent`, the guide's HTTP metrics labelled with the route template (never the raw
 * path), that template as the server span's `http.route` (and name), and one access log line.
 */
export function httpObservabilityMiddleware(req: Request, res: Response, next: NextFunction): void {
  const started = process.hrtime.bigint();
  const server = startServerSpan(req, isProbePath(req.url));
  // 'close' of an abandoned request fires from the socket, outside the request's async context:
  // the line names the request's ids from the context object itself (the auth guard fills it in)
  const requestContext = currentRequestContext();
  const spanContext = server?.span.spanContext();
  if (spanContext && trace.isSpanContextValid(spanContext)) {
    res.setHeader('X-Trace-ID', spanContext.traceId);
    res.setHeader('traceparent', `00-${spanContext.traceId}-${spanContext.spanId}-0${spanContext.traceFlags.toString(16)}`);
  }
  let recorded = false;
  const record = () => {
    if (recorded) return;
    recorded = true;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const endpoint = routeTemplate(req);
    if (server) endServerSpan(server.span, req, res, endpoint === UNMATCHED ? undefined : endpoint);
    // a response the client walked away from (closed before it was finished) is counted as 499,
    // nginx's "client closed request", so hung calls that clients give up on stay visible
    const statusCode = res.writableFinished ? res.statusCode : CLIENT_CLOSED_REQUEST;
    // a plain Express middleware, outside Nest's injection: the shared instance MetricsModule provides
    appMetrics().recordHttp(req.method, endpoint, statusCode, seconds, {
      statusCode: res.statusCode,
      matched: endpoint !== UNMATCHED,
      protocolVersion: req.httpVersion,
    });
    const logAccess = () =>
      accessLog.log({
        message: `${req.method} ${endpoint} ${statusCode}`,
        method: req.method,
        endpoint,
        status_code: statusCode,
        duration_ms: Math.round(seconds * 100_000) / 100,
        ...(requestContext && { request_id: requestContext.requestId, tenant_id: requestContext.tenantId, user_id: requestContext.userId }),
      });
    // 'finish' and 'close' come from the socket: the line names the request's trace from its context
    if (server) context.with(server.context, logAccess);
    else logAccess();
  };
  res.once('finish', record);
  res.once('close', record);
  if (server) context.with(server.context, next);
  else next();
}

const UNMATCHED = 'unmatched';
const CLIENT_CLOSED_REQUEST = 499;

/** `/v1/knowledge-bases/:kb_id`; requests that matched no route share one label value. */
function routeTemplate(req: Request): string {
  const route = (req.route as { path?: string } | undefined)?.path;
  if (typeof route !== 'string') return UNMATCHED;
  return `${req.baseUrl ?? ''}${route}` || '/';
}
