/**
 * What of a caller's input an error response may repeat. A key pasted into a path or a field
 * name must not come back in the body (nor reach logs that keep error bodies): only values
 * shaped like this API's ids, or like its route words, are echoed.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** `v1`, `knowledge-bases`, `api-keys`: route words are lowercase letters and dashes */
const ROUTE_WORD = /^(?:v\d{1,2}|[a-z]{1,24}(?:-[a-z]{1,24}){0,3})$/;

export function isIdShaped(value: string): boolean {
  return UUID.test(value);
}

/** A request path with every segment that is neither an id nor a route word replaced by `{redacted}`. */
export function redactPath(path: string): string {
  return path
    .split('/')
    .map((segment) => (segment === '' || isIdShaped(segment) || ROUTE_WORD.test(segment) ? segment : '{redacted}'))
    .join('/')
    .slice(0, 300);
}

/** At most `max` characters of untrusted text, marked when cut. */
export function truncate(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}
