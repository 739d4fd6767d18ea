/**
 * Reads a grader's answer as one JSON object. Strict: the whole text must be the object (a
 * surrounding ```json fence is tolerated, models add it even in JSON mode); anything else is
 * undefined, which the caller counts as a malformed (failed) grade.
 */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  const unfenced = text.trim().replace(/^```(?:json)?\s*([\s\S]*?)\s*```$/i, '$1');
  try {
    const value: unknown = JSON.parse(unfenced);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `{"<field>": true|false, "score"?: number}` → the boolean and the score, or undefined */
export function readBooleanGrade(text: string, field: string): { pass: boolean; score?: number } | undefined {
  const object = parseJsonObject(text);
  const value = object?.[field];
  if (typeof value !== 'boolean') return undefined;
  const score = object?.score;
  return typeof score === 'number' && Number.isFinite(score) ? { pass: value, score } : { pass: value };
}

/** `{"query": "<non-empty text>"}` → the text, or undefined */
export function readRewrittenQuery(text: string, maxLength: number): string | undefined {
  const query = parseJsonObject(text)?.query;
  if (typeof query !== 'string') return undefined;
  const trimmed = query.trim();
  return trimmed.length > 0 && trimmed.length <= maxLength ? trimmed : undefined;
}
