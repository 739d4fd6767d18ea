import {
  context,
  INVALID_SPAN_CONTEXT,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { Request, Response } from 'express';
import { SERVICE_VERSION } from '../common/version';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from './semconv';

/**
 * The scope of the service's HTTP server spans. Not the service's own tracer name: the exporter
 * masks every string attribute of other scopes (url.query, user_agent.original can carry secrets).
 */
export const HTTP_SERVER_TRACER_NAME = 'self-rag-pipeline.http-server';

let serverTracer: Tracer | undefined;
let enabled = false;

/** Called by the SDK once its tracer provider is registered; until then (and when telemetry is off) requests get no span. */
export function enableHttpServerSpans(): void {
  enabled = true;
  serverTracer = trace.getTracer(HTTP_SERVER_TRACER_NAME, SERVICE_VERSION);
}

/** `/health`, `/ready` (with or without a query); `/health/deep` does real work and stays traced */
export function isProbePath(url: string | undefined): boolean {
  if (url === undefined) return false;
  const end = url.indexOf('?');
  const path = end === -1 ? url : url.slice(0, end);
  return path === '/health' || path === '/ready';
}

/** A request's server span and the context its handlers run in; the span may be a non-recording one. */
export interface ServerSpan {
  span: Span;
  context: Context;
}

/**
 * Starts the server span of one request, in place of instrumentation-http's server side, and in
 * this order: the W3C parent from `traceparent`, then the sampler (asked with the span's name and
 * kind only: the built-in samplers read no attributes), and only for a span that records, its
 * attributes. A sampled-out request gets a non-recording span in its context, so its children are
 * sampled out too and its trace id still reaches the response headers and log lines.
 *
 * `/health` and `/ready` get no span, and nothing under them is traced. Returns undefined when
 * telemetry is off.
 */
export function startServerSpan(req: Request, probe: boolean): ServerSpan | undefined {
  if (!enabled) return undefined;
  if (probe) return { span: NOT_RECORDED, context: suppressTracing(context.active()) };
  const headers = req.headers;
  const parent =
    headers.traceparent === undefined && headers.baggage === undefined ? context.active() : propagation.extract(context.active(), headers);
  const method = normalizedMethod(req.method);
  const span = serverTracer!.startSpan(method, { kind: SpanKind.SERVER }, parent);
  if (span.isRecording()) span.setAttributes(requestAttributes(req, method));
  return { span, context: trace.setSpan(parent, span) };
}

/** Route, status and name of a finished (or abandoned) request; a no-op on a span that records nothing. */
export function endServerSpan(span: Span, req: Request, res: Response, route: string | undefined): void {
  if (!span.isRecording()) return;
  const statusCode = res.statusCode;
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode);
  if (route !== undefined) {
    span.setAttribute(ATTR_HTTP_ROUTE, route);
    span.updateName(`${normalizedMethod(req.method)} ${route}`);
  }
  // the HTTP conventions: a server span is an error for 5xx only (a 4xx is the client's)
  if (statusCode < 100 || statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

const NOT_RECORDED: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** the methods the HTTP semantic conventions name; any other is `_OTHER` */
const KNOWN_HTTP_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'QUERY']);

export function normalizedMethod(method: string): string {
  return KNOWN_HTTP_METHODS.has(method) ? method : '_OTHER';
}

/** The request attributes instrumentation-http set (stable HTTP conventions), for a recording span only. */
function requestAttributes(req: Request, method: string): Attributes {
  const headers = req.headers;
  const url = req.originalUrl ?? req.url;
  const queryAt = url.indexOf('?');
  const forwardedHost = firstHeaderValue(headers['x-forwarded-host']);
  const server = parseHost(forwardedHost ?? headers.host);
  const forwardedFor = firstHeaderValue(headers['x-forwarded-for'])?.split(',')[0].trim();
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_SCHEME]: 'http',
    [ATTR_URL_PATH]: queryAt === -1 ? url : url.slice(0, queryAt),
    [ATTR_NETWORK_PROTOCOL_VERSION]: req.httpVersion,
    [ATTR_NETWORK_PEER_ADDRESS]: req.socket.remoteAddress,
    [ATTR_NETWORK_PEER_PORT]: req.socket.remotePort,
    [ATTR_CLIENT_ADDRESS]: forwardedFor || req.socket.remoteAddress,
  };
  // a query is masked by the exporter (RedactingSpanExporter), off the request's path
  if (queryAt !== -1 && queryAt < url.length - 1) attributes[ATTR_URL_QUERY] = url.slice(queryAt + 1);
  if (server) {
    attributes[ATTR_SERVER_ADDRESS] = server.address;
    if (server.port !== undefined) attributes[ATTR_SERVER_PORT] = server.port;
  }
  if (headers['user-agent'] !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = headers['user-agent'];
  if (method !== req.method) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = req.method;
  return attributes;
}

function firstHeaderValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value || undefined;
}

/** `host`, `host:port`, `[v6]`, `[v6]:port` */
export function parseHost(host: string | undefined): { address: string; port?: number } | undefined {
  if (!host) return undefined;
  const portAt = host.lastIndexOf(':');
  if (portAt === -1 || host.endsWith(']') || (!host.startsWith('[') && host.indexOf(':') !== portAt)) return { address: host };
  const port = Number(host.slice(portAt + 1));
  const address = host.slice(0, portAt);
  return Number.isInteger(port) && port > 0 && port < 65_536 ? { address, port } : { address };
}
