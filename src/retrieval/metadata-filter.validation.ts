import type { FieldError } from '../common/errors';

export const MAX_FILTER_FIELDS = 20;
export const MAX_FILTER_VALUES = 100;
const MAX_FIELD_LENGTH = 100;
const MAX_STRING_VALUE = 1000;

function isScalar(value: unknown): boolean {
  return (
    (typeof value === 'string' && value.length <= MAX_STRING_VALUE) ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/**
 * Problems with a metadata filter's shape: an object whose fields map to a scalar (equality) or
 * to `{ "in": [scalars…] }`. Each problem names its field (`filters.year.in`).
 */
export function metadataFilterProblems(filter: unknown, path = 'filters'): FieldError[] {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
    return [{ field: path, message: 'filters must be an object of metadata field → value or {"in": [values]}' }];
  }
  const entries = Object.entries(filter as Record<string, unknown>);
  const problems: FieldError[] = [];
  if (entries.length > MAX_FILTER_FIELDS) problems.push({ field: path, message: `filters may name at most ${MAX_FILTER_FIELDS} fields` });
  for (const [field, condition] of entries) {
    const at = `${path}.${field.slice(0, MAX_FIELD_LENGTH)}`;
    if (field.length === 0 || field.length > MAX_FIELD_LENGTH) {
      problems.push({ field: at, message: `a filter field name must have 1 to ${MAX_FIELD_LENGTH} characters` });
    } else if (field === '__proto__') {
      // document metadata cannot hold this name (it is refused at upload): the filter could match nothing
      problems.push({ field: at, message: 'no metadata field is named __proto__' });
    } else if (isScalar(condition)) {
      continue;
    } else if (typeof condition === 'object' && condition !== null && !Array.isArray(condition)) {
      const keys = Object.keys(condition);
      const list = (condition as { in?: unknown }).in;
      if (keys.length !== 1 || keys[0] !== 'in') {
        problems.push({ field: at, message: 'a filter condition object must be exactly {"in": [values]}' });
      } else if (!Array.isArray(list) || list.length === 0 || list.length > MAX_FILTER_VALUES || !list.every(isScalar)) {
        problems.push({ field: `${at}.in`, message: `in must be a list of 1 to ${MAX_FILTER_VALUES} strings, numbers or booleans` });
      }
    } else {
      problems.push({ field: at, message: 'a filter value must be a string, a finite number, a boolean or {"in": [values]}' });
    }
  }
  return problems;
}
