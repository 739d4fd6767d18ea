/** Field names whose values are secrets wherever they appear in a log record. */
const SECRET_FIELD =
  /^(authorization|x-api-key|api[_-]?key|key|password|passwd|secret|token|access[_-]?token|admin[_-]?api[_-]?key|database[_-]?url|redis[_-]?url|cookie|set-cookie)$/i;

/** API keys of this service, bearer tokens, and passwords inside connection URLs. */
const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/srk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/g, 'srk_[REDACTED]'],
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, '$1[REDACTED]'],
  [/\b(sk-[A-Za-z0-9_-]{8,})/g, '[REDACTED]'],
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)[^@\s]+@/gi, '$1[REDACTED]@'],
];

export function redactString(value: string): string {
  let out = value;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Deep copy with secret fields masked and secret-looking substrings replaced. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object' || depth > 6) return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    out[key] = SECRET_FIELD.test(key) && item !== undefined && item !== null ? '[REDACTED]' : redact(item, depth + 1);
  }
  return out;
}
