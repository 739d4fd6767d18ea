import { FieldError, ValidationFailedError } from '../../common/errors';

export const CHUNKER_TYPES = ['fixed', 'recursive', 'markdown', 'sentence'] as const;
export type ChunkerType = (typeof CHUNKER_TYPES)[number];

/** A knowledge base's chunker (`chunker` in the KB API). Sizes are cl100k_base tokens. */
export interface ChunkerSettings {
  type: ChunkerType;
  chunk_size: number;
  chunk_overlap: number;
}

export const MIN_CHUNK_SIZE = 32;
export const MAX_CHUNK_SIZE = 8192;

export const DEFAULT_CHUNKER_SETTINGS: Readonly<ChunkerSettings> = Object.freeze({
  type: 'recursive',
  chunk_size: 512,
  chunk_overlap: 64,
});

/** Every problem with `input` as a chunker setting, with field names prefixed by `prefix`. */
export function chunkerSettingsErrors(input: unknown, prefix = 'chunker'): FieldError[] {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return [{ field: prefix, message: 'must be an object with type, chunk_size and chunk_overlap' }];
  }
  const value = input as Record<string, unknown>;
  const errors: FieldError[] = [];
  const known = new Set(['type', 'chunk_size', 'chunk_overlap']);
  for (const key of Object.keys(value)) {
    if (!known.has(key)) errors.push({ field: `${prefix}.${key}`, message: 'is not a chunker setting' });
  }
  if (value.type !== undefined && !CHUNKER_TYPES.includes(value.type as ChunkerType)) {
    errors.push({ field: `${prefix}.type`, message: `must be one of ${CHUNKER_TYPES.join(', ')}` });
  }
  const size = value.chunk_size ?? DEFAULT_CHUNKER_SETTINGS.chunk_size;
  const sizeOk = Number.isInteger(size) && (size as number) >= MIN_CHUNK_SIZE && (size as number) <= MAX_CHUNK_SIZE;
  if (!sizeOk) {
    errors.push({
      field: `${prefix}.chunk_size`,
      message: `must be an integer from ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE} (tokens)`,
    });
  }
  const overlap = value.chunk_overlap ?? defaultOverlap(sizeOk ? (size as number) : DEFAULT_CHUNKER_SETTINGS.chunk_size);
  if (!Number.isInteger(overlap) || (overlap as number) < 0) {
    errors.push({ field: `${prefix}.chunk_overlap`, message: 'must be an integer ≥ 0 (tokens)' });
  } else if (sizeOk && (overlap as number) >= (size as number) / 2) {
    errors.push({ field: `${prefix}.chunk_overlap`, message: `must be less than half of chunk_size (${size as number})` });
  }
  return errors;
}

/**
 * Fills defaults and validates. Throws ValidationFailedError (422) naming every wrong field.
 * An omitted overlap defaults to 1/8 of the size.
 */
export function resolveChunkerSettings(input: unknown = {}, prefix = 'chunker'): ChunkerSettings {
  const errors = chunkerSettingsErrors(input ?? {}, prefix);
  if (errors.length > 0) throw new ValidationFailedError(errors);
  const value = (input ?? {}) as Partial<ChunkerSettings>;
  const chunkSize = value.chunk_size ?? DEFAULT_CHUNKER_SETTINGS.chunk_size;
  return {
    type: value.type ?? DEFAULT_CHUNKER_SETTINGS.type,
    chunk_size: chunkSize,
    chunk_overlap: value.chunk_overlap ?? defaultOverlap(chunkSize),
  };
}

function defaultOverlap(chunkSize: number): number {
  return Math.floor(chunkSize / 8);
}
