import { registerDecorator, type ValidationOptions } from 'class-validator';

/**
 * RFC 3339 date-times and calendar dates (`2027-01-31`, `2027-01-31T08:00:00Z`,
 * `2027-01-31T08:00:00.5+02:00`). Week dates (`2027-W01-1`), ordinal dates and the other ISO 8601
 * forms are refused: `Date` cannot read them, and reading them some other way would guess.
 */
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2})))?$/i;

/** The instant the text names, or undefined when it is not a timestamp this service reads exactly. */
export function parseTimestamp(text: string): Date | undefined {
  const match = TIMESTAMP.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour = '0', minute = '0', second = '0', offsetHour = '0', offsetMinute = '0'] = match;
  const daysInMonth = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
  if (Number(month) < 1 || Number(month) > 12 || Number(day) < 1 || Number(day) > daysInMonth) return undefined;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59 || Number(offsetHour) > 23 || Number(offsetMinute) > 59)
    return undefined;
  // a date-time without an offset would be read in the server's time zone: only date-only is allowed bare
  if (match[4] !== undefined && !/(?:Z|[+-]\d{2}:\d{2})$/i.test(text)) return undefined;
  const instant = new Date(text);
  return Number.isNaN(instant.getTime()) ? undefined : instant;
}

export function IsTimestamp(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isTimestamp',
      target: target.constructor,
      propertyName: String(propertyName),
      options,
      validator: {
        validate: (value: unknown) => typeof value === 'string' && parseTimestamp(value) !== undefined,
        defaultMessage: () =>
          `${String(propertyName)} must be an RFC 3339 date-time with an offset (2027-01-31T08:00:00Z) or a date (2027-01-31)`,
      },
    });
}
