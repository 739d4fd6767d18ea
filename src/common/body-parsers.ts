import type { NextFunction, Request, RequestHandler, Response } from 'express';
import * as express from 'express';
import { BadRequestError, PayloadTooLargeError } from './errors';
import { describeViolation, jsonShapeViolation, type JsonShapeLimits } from './json-shape';
import { toProblem } from './problem-details.filter';
import { sendProblem } from './problem';

/**
 * What a JSON body may hold, checked right after parsing (a walk of a 1 MB body takes a few ms)
 * and before validation walks it recursively: 60,000 unknown keys would otherwise cost seconds
 * of class-validator on the event loop and a megabytes-long list of errors. No request of this
 * API needs more than a few dozen keys; metadata, the widest, is capped lower (document-metadata.ts).
 */
export const JSON_BODY_LIMITS: Readonly<JsonShapeLimits> = Object.freeze({ maxDepth: 32, maxObjectKeys: 256, maxArrayItems: 1000, maxEntries: 10_000 });

function shapeError(body: unknown): Error | undefined {
  const violation = jsonShapeViolation(body, JSON_BODY_LIMITS);
  if (!violation) return undefined;
  const detail = describeViolation(violation, 'request body');
  // too deep is malformed for this API; too wide or too many is a size budget
  return violation.kind === 'depth' ? new BadRequestError(detail) : new PayloadTooLargeError(detail);
}

/**
 * JSON and urlencoded parsers whose errors (malformed JSON 400, too large 413, bad charset 415)
 * answer problem+json here: errors raised in Express middleware never reach Nest's filters.
 */
export function problemAwareBodyParsers(limitBytes: number): RequestHandler[] {
  return [express.json({ limit: limitBytes, strict: true }), express.urlencoded({ limit: limitBytes, extended: false })].map(
    (parser): RequestHandler =>
      (req: Request, res: Response, next: NextFunction) =>
        parser(req, res, (error?: unknown) => {
          const failure = error ?? shapeError(req.body);
          if (!failure) return next();
          const { problem, headers } = toProblem(failure, req.originalUrl.split('?')[0] ?? req.url);
          sendProblem(res, problem, headers);
        }),
  );
}
