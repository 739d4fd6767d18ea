import type { Response } from 'express';

/** RFC 9457 problem details, the body of every error response. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  request_id?: string;
  [extension: string]: unknown;
}

export const PROBLEM_TYPE_BASE = 'https://self-rag-pipeline.dev/problems/';

export function sendProblem(res: Response, problem: ProblemDocument, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
}
