import { context, ROOT_CONTEXT, trace, TraceFlags, type Context, type Link } from '@opentelemetry/api';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function spanContextOf(carrier: Record<string, string> | null) {
  const match = carrier?.traceparent?.match(TRACEPARENT);
  if (!match) return undefined;
  return { traceId: match[1], spanId: match[2], traceFlags: Number.parseInt(match[3], 16) & TraceFlags.SAMPLED, isRemote: true };
}

/** The context of the request that queued a job, so the job's spans are its children. */
export function jobParentContext(carrier: Record<string, string> | null): Context {
  const spanContext = spanContextOf(carrier);
  return spanContext ? trace.setSpanContext(ROOT_CONTEXT, spanContext) : context.active();
}

/** Links from a batch span to every request whose documents it indexes. */
export function jobLinks(carriers: Array<Record<string, string> | null>): Link[] {
  return carriers.flatMap((carrier) => {
    const spanContext = spanContextOf(carrier);
    return spanContext ? [{ context: spanContext }] : [];
  });
}
