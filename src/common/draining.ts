import type { Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

/** Set at SIGTERM: responses then carry `Connection: close` so keep-alive clients move on. */
let draining = false;

export function drainingMiddleware(_req: Request, res: Response, next: NextFunction): void {
  if (draining) res.setHeader('Connection', 'close');
  next();
}

/**
 * After SIGTERM, responses say `Connection: close` for this long before the listener closes:
 * `server.close()` also closes idle keep-alive sockets, which would reset a request already on
 * the wire to one of them. Kubernetes' preStop sleep covers the same window from the outside.
 */
export const KEEP_ALIVE_DRAIN_MS = 1_000;

/** Stops accepting connections and waits for in-flight requests to finish. */
export async function drainHttpServer(server: Server, drainMs = KEEP_ALIVE_DRAIN_MS): Promise<void> {
  draining = true;
  await new Promise((resolve) => setTimeout(resolve, drainMs));
  await new Promise<void>((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearInterval(sweep);
      resolve();
    });
  });
}
