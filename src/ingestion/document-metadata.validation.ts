import { describeViolation, jsonShapeViolation, jsonTextDepth, type JsonShapeLimits } from '../common/json-shape';

/** The longest metadata, as JSON text (multipart) or once serialized (JSON upload). */
export const METADATA_MAX_BYTES = 16 * 1024;
/**
 * How deep and wide document metadata may be. It is returned with every retrieved chunk and
 * crosses threads by structured clone, which recurses: 2,700 levels overflowed the stack there.
 */
export const METADATA_LIMITS: Readonly<JsonShapeLimits> = Object.freeze({
  maxDepth: 8,
  maxObjectKeys: 100,
  maxArrayItems: 500,
  maxEntries: 1000,
  // the one name that cannot be stored as given: object merges drop it (`constructor`, `toString`… are ordinary names)
  refusedKeys: new Set(['__proto__']),
});

/**
 * What is wrong with `metadata` (a JSON object, or its text in a multipart upload), or undefined.
 * Sizes are checked before the text is parsed, the depth by a scan of the text, the shape by an
 * iterative walk: nothing here recurses.
 */
export function documentMetadataProblem(raw: unknown): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  let value: unknown = raw;
  if (typeof raw === 'string') {
    if (Buffer.byteLength(raw, 'utf8') > METADATA_MAX_BYTES) return `must be at most ${METADATA_MAX_BYTES / 1024} KiB as JSON`;
    if (jsonTextDepth(raw, METADATA_LIMITS.maxDepth) > METADATA_LIMITS.maxDepth)
      return `nests deeper than ${METADATA_LIMITS.maxDepth} levels`;
    try {
      value = JSON.parse(raw) as unknown;
    } catch {
      return 'must be a JSON object';
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be a JSON object';
  const violation = jsonShapeViolation(value, METADATA_LIMITS);
  if (violation) return describeViolation(violation, 'metadata').replace(/^metadata /, '');
  if (typeof raw !== 'string' && Buffer.byteLength(JSON.stringify(value), 'utf8') > METADATA_MAX_BYTES)
    return `must be at most ${METADATA_MAX_BYTES / 1024} KiB as JSON`;
  return undefined;
}
