import type { Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

/** Set at SIGTERM: responses then carry `Connection: close` so keep-alive clients move on. */
let draining = false;

export function drainingMiddleware(_req: Request, res: Response, next: NextFunction): void {
  if (draining) res.setHeader('Connection', 'close');
  next();
}

/**
 * Stops accepting connections and waits for in-flight requests to finish: idle keep-alive
 * sockets are closed at once and again as requests on them complete.
 */
export function drainHttpServer(server: Server): Promise<void> {
  draining = true;
  return new Promise((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}
