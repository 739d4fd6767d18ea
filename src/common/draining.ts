import * as net from 'node:net';
import type { Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

/** Set at SIGTERM: responses then carry `Connection: close` so keep-alive clients move on. */
let draining = false;

export function drainingMiddleware(_req: Request, res: Response, next: NextFunction): void {
  if (draining) res.setHeader('Connection', 'close');
  next();
}

/**
 * After SIGTERM, responses say `Connection: close` for this long before the listener closes, and
 * connections arriving meanwhile are still served. Kubernetes' preStop sleep covers the same
 * window from the outside.
 */
export const KEEP_ALIVE_DRAIN_MS = 1_000;

/**
 * How long after the listener closes a connection accepted before may take to send its request.
 * Until then it is not idle: its request is on the way (its client got the TCP handshake).
 */
export const FIRST_REQUEST_GRACE_MS = 2_000;

const SWEEP_MS = 50;

interface ConnectionState {
  /** responses not yet closed */
  active: number;
  /** responses done */
  served: number;
}

const connections = new WeakMap<Server, Map<net.Socket, ConnectionState>>();

/**
 * Keeps each connection's state (requests in flight, served) from the start, so that the drain
 * can tell an idle keep-alive connection from one that was accepted and whose request is still
 * to come: Node's `server.close()` and `closeIdleConnections()` destroy both alike, which resets
 * a request that races SIGTERM.
 */
export function trackConnections(server: Server): void {
  const states = new Map<net.Socket, ConnectionState>();
  connections.set(server, states);
  server.on('connection', (socket: net.Socket) => {
    states.set(socket, { active: 0, served: 0 });
    socket.once('close', () => states.delete(socket));
  });
  server.on('request', (req: Request, res: Response) => {
    const state = states.get(req.socket);
    if (!state) return;
    state.active += 1;
    res.once('close', () => {
      state.active -= 1;
      state.served += 1;
    });
  });
}

/**
 * Stops accepting connections and waits for every accepted one to be answered: in-flight requests
 * finish; a connection whose request has not arrived yet gets FIRST_REQUEST_GRACE_MS to send it
 * (answered with `Connection: close`); idle keep-alive connections are ended with a FIN, never
 * destroyed.
 */
export async function drainHttpServer(server: Server, drainMs = KEEP_ALIVE_DRAIN_MS): Promise<void> {
  draining = true;
  await new Promise((resolve) => setTimeout(resolve, drainMs));
  const states = connections.get(server);
  const firstRequestDeadline = Date.now() + FIRST_REQUEST_GRACE_MS;
  await new Promise<void>((resolve) => {
    const endIdle = () => {
      if (!states) return;
      const waitedLongEnough = Date.now() >= firstRequestDeadline;
      for (const [socket, state] of states) {
        if (state.active > 0 || socket.writableEnded) continue;
        if (state.served > 0 || waitedLongEnough) socket.end();
      }
    };
    const sweep = setInterval(states ? endIdle : () => server.closeIdleConnections(), SWEEP_MS);
    const closed = () => {
      clearInterval(sweep);
      resolve();
    };
    // the listener only: http.Server#close would also destroy every connection without a request in progress
    if (states) net.Server.prototype.close.call(server, closed);
    else server.close(closed);
    endIdle();
  });
}
