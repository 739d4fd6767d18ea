import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { Allow } from 'class-validator';
import { ValidationFailedError, type FieldError } from './errors';

function flatten(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({
      field,
      message: message.startsWith(`property ${error.property} `) ? message.replace(`property ${error.property} `, '') : message,
    }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

export interface FreeFormField {
  /** what is wrong with the value as parsed, each problem naming its field (from `field` down) */
  problems(raw: unknown, field: string): FieldError[];
  /** the DTO's value, from the value as parsed once it has no problems */
  toValue(raw: unknown): unknown;
}

/** per DTO class, its free-form fields */
const freeFormByClass = new Map<object, Map<string, FreeFormField>>();
/** every free-form field name of any DTO */
const freeFormNames = new Set<string>();

/**
 * A body field holding the caller's own JSON (document metadata, metadata filters), in which
 * `constructor`, `toString` or `prototype` are ordinary keys. Nest strips some of them from
 * bodies, class-transformer skips others, and takes a `constructor` key for the class to build
 * (a TypeError, so a 500): the field never reaches them. The pipe checks it with `problems` and
 * sets the DTO's value with `toValue`; class-validator decorators on it see nothing.
 */
export function FreeFormJson(field: FreeFormField): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    const fields = freeFormByClass.get(target.constructor) ?? new Map<string, FreeFormField>();
    fields.set(String(propertyName), field);
    freeFormByClass.set(target.constructor, fields);
    freeFormNames.add(String(propertyName));
    // declared for the whitelist (the DTO's own property, undefined until the pipe sets it)
    Allow()(target, propertyName);
  };
}

function freeFormFieldsOf(metatype: unknown): Map<string, FreeFormField> {
  const fields = new Map<string, FreeFormField>();
  for (let type = metatype; typeof type === 'function' && type !== Function.prototype; type = Object.getPrototypeOf(type)) {
    for (const [name, field] of freeFormByClass.get(type) ?? []) if (!fields.has(name)) fields.set(name, field);
  }
  return fields;
}

/** Nest's pipe, with free-form JSON fields taken out of the body before it and put back after. */
class FreeFormAwareValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'body' || value === null || typeof value !== 'object' || Array.isArray(value))
      return super.transform(value, metadata);
    const body = value as Record<string, unknown>;
    const present = [...freeFormNames].filter((name) => Object.hasOwn(body, name));
    if (present.length === 0) return super.transform(value, metadata);

    const declared = freeFormFieldsOf(metadata.metatype);
    const rest = { ...body };
    for (const name of present) delete rest[name];
    const problems = present.flatMap(
      (name) => declared.get(name)?.problems(body[name], name) ?? [{ field: name, message: 'should not exist' }],
    );
    let dto: Record<string, unknown>;
    try {
      dto = (await super.transform(rest, metadata)) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof ValidationFailedError && problems.length > 0) throw new ValidationFailedError([...error.errors, ...problems]);
      throw error;
    }
    if (problems.length > 0) throw new ValidationFailedError(problems);
    for (const name of present) dto[name] = declared.get(name)!.toValue(body[name]);
    return dto;
  }
}

/** Rejects unknown fields and names every wrong field in one 422 problem. */
export function createValidationPipe(): ValidationPipe {
  return new FreeFormAwareValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => new ValidationFailedError(flatten(errors)),
  });
}
