import type { NextFunction, Request, RequestHandler, Response } from 'express';
import * as express from 'express';
import { BadRequestError, PayloadTooLargeError } from './errors';
import {
  describeViolation,
  jsonBytesShapeViolation,
  jsonShapeViolation,
  type JsonShapeLimits,
  type JsonShapeViolation,
} from './json-shape';
import { toProblem } from './problem-details.filter';
import { sendProblem } from './problem';

/**
 * What a JSON body may hold, checked on its bytes before JSON.parse builds it (a scan of 1 MB
 * takes a few ms; parsing 60,000 keys alone takes 50-200 ms), and on the parsed value before
 * validation walks it recursively (60,000 unknown keys cost seconds of class-validator and a
 * megabytes-long list of errors). No request of this API needs more than a few dozen keys;
 * metadata, the widest, is capped lower (document-metadata.validation.ts).
 */
export const JSON_BODY_LIMITS: Readonly<JsonShapeLimits> = Object.freeze({
  maxDepth: 32,
  maxObjectKeys: 256,
  maxArrayItems: 1000,
  maxEntries: 10_000,
});

function shapeError(violation: JsonShapeViolation | undefined): Error | undefined {
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
  const json = express.json({
    limit: limitBytes,
    strict: true,
    // bytes of another charset (UTF-16/32) are checked once parsed only
    verify: (_req, _res, bytes, encoding) => {
      const failure =
        encoding === 'utf-8' || encoding === 'utf8' ? shapeError(jsonBytesShapeViolation(bytes, JSON_BODY_LIMITS)) : undefined;
      if (failure) throw failure;
    },
  });
  return [json, express.urlencoded({ limit: limitBytes, extended: false })].map(
    (parser): RequestHandler =>
      (req: Request, res: Response, next: NextFunction) =>
        parser(req, res, (error?: unknown) => {
          const failure = error ?? shapeError(jsonShapeViolation(req.body, JSON_BODY_LIMITS));
          if (!failure) return next();
          const { problem, headers } = toProblem(failure, req.originalUrl.split('?')[0] ?? req.url);
          sendProblem(res, problem, headers);
        }),
  );
}
