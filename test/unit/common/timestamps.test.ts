import { describe, expect, it } from 'vitest';
import { parseTimestamp } from '../../../src/common/timestamps';

describe('parseTimestamp', () => {
  it.each([
    ['2027-01-31', '2027-01-31T00:00:00.000Z'],
    ['2028-02-29', '2028-02-29T00:00:00.000Z'],
    ['2027-01-31T08:00:00Z', '2027-01-31T08:00:00.000Z'],
    ['2027-01-31T08:00Z', '2027-01-31T08:00:00.000Z'],
    ['2027-01-31T08:00:00.123456+02:00', '2027-01-31T06:00:00.123Z'],
  ])('reads %s exactly', (text, iso) => {
    expect(parseTimestamp(text)?.toISOString()).toBe(iso);
  });

  it.each([
    '2027-W01-1',
    '2027-W01',
    '2027-001',
    '2027-02-29',
    '2027-13-01',
    '2027-01-31T24:00:00Z',
    '2027-01-31T08:00:00',
    '20270131',
    '+002027-01-31',
    '2027-01-31T08:00:00+25:00',
    '',
  ])('refuses %j (a week date, ordinal date, impossible date or a time without offset)', (text) => {
    expect(parseTimestamp(text)).toBeUndefined();
  });
});
