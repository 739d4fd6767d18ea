import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line and span of one request can name. */
export interface RequestContext {
  requestId: string;
  tenantId?: string;
  /** the API key id that authenticated the call (`user_id` in the guide's log fields) */
  userId?: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentRequestContext(): RequestContext | undefined {
  return requestContext.getStore();
}
