/**
 * Filters on document metadata accepted by retrieval: a field equals a scalar, or is one of a list.
 * `{ "lang": "en", "year": { "in": [2020, 2021] } }`
 *
 * A field may be named like a built-in of JavaScript objects (`constructor`, `toString`,
 * `__proto__`): filters are kept in objects without a prototype, and a document's field is read
 * only when it is the document's own, so such a name is an ordinary field name.
 */
export type MetadataScalar = string | number | boolean;
export type MetadataCondition = MetadataScalar | { in: MetadataScalar[] };
export type MetadataFilter = Record<string, MetadataCondition>;

/**
 * The request's `filters` as a prototype-less copy (conditions too), taken from the parsed JSON
 * before class-transformer, which drops keys named like built-ins. Anything that is not an
 * object is returned as it is, for the validator to refuse.
 */
export function toMetadataFilter(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const filter = Object.create(null) as Record<string, unknown>;
  for (const [field, condition] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof condition === 'object' && condition !== null && !Array.isArray(condition)) {
      const copy = Object.create(null) as Record<string, unknown>;
      for (const [key, value] of Object.entries(condition)) copy[key] = value;
      filter[field] = copy;
    } else {
      filter[field] = condition;
    }
  }
  return filter;
}

/** The document's own field `field` (never one inherited from Object.prototype). */
export function ownField(metadata: Record<string, unknown> | null | undefined, field: string): unknown {
  return metadata != null && Object.hasOwn(metadata, field) ? metadata[field] : undefined;
}

export function matchesMetadataFilter(metadata: Record<string, unknown> | null | undefined, filter: MetadataFilter | undefined): boolean {
  if (!filter) return true;
  for (const [field, condition] of Object.entries(filter)) {
    const value = ownField(metadata, field);
    if (value === undefined) return false;
    if (typeof condition === 'object' && condition !== null) {
      if (!condition.in.some((candidate) => candidate === value)) return false;
    } else if (value !== condition) {
      return false;
    }
  }
  return true;
}
