import * as net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
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
 * How long after the listener closes a connection without a request in flight may still send one
 * (answered with `Connection: close`) before it is ended. Its client may have the request on the
 * way: a fresh connection (TCP handshake done) or a keep-alive one reused at that moment. Node's
 * `server.close()` destroys idle keep-alive connections at once, which resets such a request.
 */
export const IDLE_CONNECTION_GRACE_MS = 2_000;

const SWEEP_MS = 50;

interface ConnectionState {
  /** responses not yet closed */
  active: number;
}

const connections = new WeakMap<Server, Map<net.Socket, ConnectionState>>();

/** Keeps each connection's requests in flight from the start, for the drain (below). */
export function trackConnections(server: Server): void {
  const states = new Map<net.Socket, ConnectionState>();
  connections.set(server, states);
  server.on('connection', (socket: net.Socket) => {
    states.set(socket, { active: 0 });
    socket.once('close', () => states.delete(socket));
  });
  server.on('request', (req: Request, res: Response) => {
    const state = states.get(req.socket);
    if (!state) return;
    state.active += 1;
    res.once('close', () => (state.active -= 1));
  });
}

/**
 * Stops accepting connections and waits for every accepted one to be answered: in-flight requests
 * finish with `Connection: close`; a connection without one gets IDLE_CONNECTION_GRACE_MS to send
 * it, then is ended with a FIN, never destroyed.
 */
export async function drainHttpServer(server: Server, drainMs = KEEP_ALIVE_DRAIN_MS): Promise<void> {
  draining = true;
  await delay(drainMs);
  const states = connections.get(server);
  const idleDeadline = Date.now() + IDLE_CONNECTION_GRACE_MS;
  await new Promise<void>((resolve) => {
    const endIdle = () => {
      if (!states) return;
      if (Date.now() < idleDeadline) return;
      for (const [socket, state] of states) if (state.active === 0 && !socket.writableEnded) socket.end();
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
