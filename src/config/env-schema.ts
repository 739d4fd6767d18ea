import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  Matches,
  Max,
  Min,
  MinLength,
  ValidateBy,
  ValidateNested,
  validateSync,
  type ValidationArguments,
  type ValidationError,
  type ValidationOptions,
} from 'class-validator';

/**
 * Decorators that declare a configuration class as its environment: each property names its
 * variable, how the text is read, the constraints (class-validator) with the message naming the
 * variable, and its default (the property's initializer). `readEnvironment` builds the typed
 * object from them; `environmentVariables` lists every variable declared.
 */

type Env = Record<string, string | undefined>;
type SchemaClass<T = object> = new () => T;

interface EnvField {
  property: string;
  variable: string;
  /** the trimmed text as a value; text it cannot read is kept as it is, for the constraints to refuse */
  parse: (raw: string) => unknown;
  /** when the value is refused: fall back to the default (the initializer, or unset), or keep it as given */
  onInvalid: 'default' | 'keep';
}

const fields = new Map<object, EnvField[]>();
const sections = new Map<object, Array<{ property: string; schema: () => SchemaClass }>>();
/** the text each variable had, per built object, for messages that quote it */
const rawValues = new WeakMap<object, Map<string, string>>();

function own<T>(registry: Map<object, T[]>, target: object): T[] {
  const ctor = target.constructor;
  let list = registry.get(ctor);
  if (!list) registry.set(ctor, (list = []));
  return list;
}

function quoted(args: ValidationArguments): string {
  return rawValues.get(args.object)?.get(args.property) ?? String(args.value);
}

function declare(
  variable: string,
  parse: EnvField['parse'],
  onInvalid: EnvField['onInvalid'],
  ...constraints: PropertyDecorator[]
): PropertyDecorator {
  return (target, property) => {
    own(fields, target).push({ property: String(property), variable, parse, onInvalid });
    for (const constraint of constraints) constraint(target, property);
  };
}

function message(text: (raw: string) => string): ValidationOptions {
  return { message: (args: ValidationArguments) => text(quoted(args)) };
}

const INTEGER = /^-?\d+$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

/** An integer in [min, max]. */
export function EnvInt(variable: string, min: number, max: number, options: { optional?: boolean } = {}): PropertyDecorator {
  const says = message((raw) => `${variable} must be an integer between ${min} and ${max} (got '${raw}')`);
  const constraints = [IsInt(says), Min(min, says), Max(max, says)];
  return declare(
    variable,
    (raw) => (INTEGER.test(raw) ? Number(raw) : raw),
    'default',
    ...(options.optional ? [IsOptional()] : []),
    ...constraints,
  );
}

/** A decimal number in [min, max]. */
export function EnvNumber(variable: string, min: number, max: number): PropertyDecorator {
  const says = message((raw) => `${variable} must be a number between ${min} and ${max} (got '${raw}')`);
  return declare(variable, (raw) => (DECIMAL.test(raw) ? Number(raw) : raw), 'default', IsNumber({}, says), Min(min, says), Max(max, says));
}

/** One of the values listed. Optional: the default depends on other variables, settled after reading. */
export function EnvOneOf(variable: string, values: readonly string[], options: { optional?: boolean } = {}): PropertyDecorator {
  const says = message((raw) => `${variable} must be one of ${values.join(', ')} (got '${raw}')`);
  return declare(variable, (raw) => raw, 'default', ...(options.optional ? [IsOptional()] : []), IsIn([...values], says));
}

/** `true` or `false`, exactly. */
export function EnvBoolean(variable: string): PropertyDecorator {
  const says = message((raw) => `${variable} must be one of true, false (got '${raw}')`);
  return declare(variable, (raw) => (raw === 'true' ? true : raw === 'false' ? false : raw), 'default', IsBoolean(says));
}

/** On when the value is `true` in any case; anything else is off (the OpenTelemetry convention). */
export function EnvOptIn(variable: string): PropertyDecorator {
  return declare(variable, (raw) => raw.toLowerCase() === 'true', 'default');
}

/** Free text; an optional one may be required to match a pattern or a length. */
export function EnvString(
  variable: string,
  options: {
    matches?: { pattern: RegExp; message: string };
    minLength?: { length: number; message: string };
    onInvalid?: EnvField['onInvalid'];
  } = {},
): PropertyDecorator {
  const constraints: PropertyDecorator[] = [IsOptional()];
  if (options.matches) constraints.push(Matches(options.matches.pattern, { message: options.matches.message }));
  if (options.minLength) constraints.push(MinLength(options.minLength.length, { message: options.minLength.message }));
  return declare(variable, (raw) => raw, options.onInvalid ?? 'default', ...constraints);
}

/** Comma-separated values, blanks dropped. */
export function EnvList(variable: string): PropertyDecorator {
  return declare(
    variable,
    (raw) =>
      raw
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    'default',
  );
}

/** An optional http(s) URL, its trailing slashes dropped unless `keepTrailingSlash`. */
export function EnvUrl(
  variable: string,
  options: { keepTrailingSlash?: boolean; onInvalid?: EnvField['onInvalid'] } = {},
): PropertyDecorator {
  const isHttpUrl = ValidateBy(
    {
      name: 'isHttpUrl',
      validator: {
        validate: (value: unknown) => {
          if (typeof value !== 'string') return false;
          try {
            const { protocol } = new URL(value);
            return protocol === 'http:' || protocol === 'https:';
          } catch {
            return false;
          }
        },
      },
    },
    message((raw) => `${variable} must be an http(s) URL (got '${raw}')`),
  );
  const parse = (raw: string) => (options.keepTrailingSlash ? raw : raw.replace(/\/+$/, ''));
  return declare(variable, parse, options.onInvalid ?? 'default', IsOptional(), isHttpUrl);
}

/** A group of settings declared by its own class, read from the same environment. */
export function EnvSection(schema: () => SchemaClass): PropertyDecorator {
  return (target, property) => {
    own(sections, target).push({ property: String(property), schema });
    ValidateNested()(target, property);
  };
}

/**
 * Builds the schema's object from the environment (empty values count as unset) and checks it.
 * A refused value is replaced by its default, or left as given (`onInvalid: 'keep'`), so checks
 * across variables that follow see what the original reader saw; every refusal is a problem.
 */
export function readEnvironment<T extends object>(schema: SchemaClass<T>, env: Env): { value: T; problems: string[] } {
  const value = build(schema, env);
  const problems: string[] = [];
  collect(validateSync(value, { forbidUnknownValues: false }), problems);
  return { value, problems };
}

/** Every variable the schema declares, in declaration order. */
export function environmentVariables(schema: SchemaClass): string[] {
  const names = (fields.get(schema) ?? []).map((field) => field.variable);
  for (const section of sections.get(schema) ?? []) names.push(...environmentVariables(section.schema()));
  return names;
}

function build<T extends object>(schema: SchemaClass<T>, env: Env): T {
  const value = new schema() as Record<string, unknown>;
  const raws = new Map<string, string>();
  rawValues.set(value, raws);
  for (const field of fields.get(schema) ?? []) {
    const raw = env[field.variable]?.trim();
    if (raw === undefined || raw === '') continue;
    raws.set(field.property, raw);
    value[field.property] = field.parse(raw);
  }
  for (const section of sections.get(schema) ?? []) value[section.property] = build(section.schema(), env);
  return value as T;
}

function collect(errors: ValidationError[], problems: string[]): void {
  for (const error of errors) {
    const [first] = Object.values(error.constraints ?? {});
    if (first !== undefined) {
      problems.push(first);
      const target = error.target as Record<string, unknown>;
      const field = fields.get(target.constructor)?.find((f) => f.property === error.property);
      if (field?.onInvalid !== 'keep')
        target[error.property] = (new (target.constructor as SchemaClass)() as Record<string, unknown>)[error.property];
    }
    collect(error.children ?? [], problems);
  }
}
