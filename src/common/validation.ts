import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { Transform, Type } from 'class-transformer';
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

/** body fields whose value is the caller's own JSON (see `FreeFormJson`) */
const freeFormFields = new Set<string>();

/**
 * A body field holding the caller's JSON (document metadata, metadata filters), where
 * `constructor`, `__proto__` or `toString` are ordinary keys. Nest strips the first three from
 * bodies and class-transformer skips the others; the field gets the value as parsed instead,
 * through `toValue` (e.g. a copy without a prototype). Its validator sees that value.
 */
export function FreeFormJson(toValue: (raw: unknown) => unknown = (raw) => raw): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    freeFormFields.add(String(propertyName));
    // a declared type keeps class-transformer from taking the value's own `constructor` key for its class
    Type(() => Object)(target, propertyName);
    Transform(({ obj }) => toValue((obj as Record<string | symbol, unknown>)[propertyName]))(target, propertyName);
  };
}

/** Nest's pipe, minus the stripping of prototype-named keys inside free-form JSON fields. */
class FreeFormAwareValidationPipe extends ValidationPipe {
  protected override stripProtoKeys(value: unknown): void {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return super.stripProtoKeys(value);
    const body = value as Record<string, unknown>;
    const kept = [...freeFormFields].filter((field) => Object.hasOwn(body, field)).map((field) => [field, body[field]] as const);
    for (const [field] of kept) delete body[field];
    super.stripProtoKeys(body);
    for (const [field, raw] of kept) body[field] = raw;
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
