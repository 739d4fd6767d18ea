import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as semconv from '../../../src/telemetry/semconv';

// the package's `incubating` entry point is an `exports` subpath, which this tsconfig's resolution does not see
const incubating = createRequire(__filename)('@opentelemetry/semantic-conventions/incubating') as Record<string, unknown>;

describe('semantic-convention names', () => {
  it('copies every incubating name exactly as the installed @opentelemetry/semantic-conventions spells it', () => {
    const names = Object.keys(semconv) as Array<keyof typeof semconv>;
    expect(names.length).toBeGreaterThan(20);
    for (const name of names) expect([name, semconv[name]]).toEqual([name, incubating[name]]);
  });
});
