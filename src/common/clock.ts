/** ISO-8601 UTC with milliseconds: one fixed width, so stored strings sort chronologically. */
export function nowIso(offsetMs = 0): string {
  return new Date(Date.now() + offsetMs).toISOString();
}
