import type { NextFunction, Request, RequestHandler, Response } from 'express';
import * as express from 'express';
import { BadRequestError } from './errors';
import { toProblem } from './problem-details.filter';
import { sendProblem } from './problem';

/** Deeper bodies are refused before validation walks them recursively. */
export const MAX_JSON_DEPTH = 32;

/** Iterative, so a hostile body cannot overflow the stack while being measured. */
export function exceedsDepth(value: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > maxDepth) return true;
    for (const child of Object.values(current as Record<string, unknown>)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
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
          if (!error && !exceedsDepth(req.body, MAX_JSON_DEPTH)) return next();
          const failure = error ?? new BadRequestError(`request body nests deeper than ${MAX_JSON_DEPTH} levels`);
          const { problem, headers } = toProblem(failure, req.originalUrl.split('?')[0] ?? req.url);
          sendProblem(res, problem, headers);
        }),
  );
}
