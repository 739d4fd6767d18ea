import type { NextFunction, Request, RequestHandler, Response } from 'express';
import * as express from 'express';
import { toProblem } from './problem-details.filter';
import { sendProblem } from './problem';

/**
 * JSON and urlencoded parsers whose errors (malformed JSON 400, too large 413, bad charset 415)
 * answer problem+json here: errors raised in Express middleware never reach Nest's filters.
 */
export function problemAwareBodyParsers(limitBytes: number): RequestHandler[] {
  return [express.json({ limit: limitBytes, strict: true }), express.urlencoded({ limit: limitBytes, extended: false })].map(
    (parser): RequestHandler =>
      (req: Request, res: Response, next: NextFunction) =>
        parser(req, res, (error?: unknown) => {
          if (!error) return next();
          const { problem, headers } = toProblem(error, req.originalUrl.split('?')[0] ?? req.url);
          sendProblem(res, problem, headers);
        }),
  );
}
