import type { NextFunction, Request, Response } from 'express';
import { NotFoundError } from './errors';
import { toProblem } from './problem-details.filter';
import { sendProblem } from './problem';

/**
 * ROLE=worker replicas keep /health, /ready and /metrics for their probes and scrapes, but serve
 * no API: the Service routes API traffic to ROLE=api pods only.
 */
export function workerRoleMiddleware(req: Request, res: Response, next: NextFunction): void {
  if (!req.path.startsWith('/v1/') && !req.path.startsWith('/docs')) return next();
  const { problem, headers } = toProblem(new NotFoundError('route on an ingestion worker (ROLE=worker serves no API)'), req.path);
  sendProblem(res, problem, headers);
}
