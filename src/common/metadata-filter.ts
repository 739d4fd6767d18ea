/**
 * Filters on document metadata accepted by retrieval: a field equals a scalar, or is one of a list.
 * `{ "lang": "en", "year": { "in": [2020, 2021] } }`
 */
export type MetadataScalar = string | number | boolean;
export type MetadataCondition = MetadataScalar | { in: MetadataScalar[] };
export type MetadataFilter = Record<string, MetadataCondition>;

export function matchesMetadataFilter(
  metadata: Record<string, unknown> | null | undefined,
  filter: MetadataFilter | undefined,
): boolean {
  if (!filter) return true;
  for (const [field, condition] of Object.entries(filter)) {
    const value = metadata?.[field];
    if (typeof condition === 'object' && condition !== null) {
      if (!condition.in.some((candidate) => candidate === value)) return false;
    } else if (value !== condition) {
      return false;
    }
  }
  return true;
}
