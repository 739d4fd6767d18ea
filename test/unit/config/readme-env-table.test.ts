import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configurationVariables, loadConfig } from '../../../src/config/app-config';
import { loadTelemetryConfig } from '../../../src/config/telemetry-config';

/** The variables named in the first column of README.md's configuration table. */
function readmeVariables(): string[] {
  const readme = readFileSync(join(__dirname, '../../../README.md'), 'utf8');
  const section = readme.split(/^## /m).find((part) => part.startsWith('Configuration'));
  if (!section) throw new Error('README.md has no "## Configuration" section');
  const names: string[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const firstCell = line.split('|')[1];
    for (const match of firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.push(match[1]);
  }
  return names;
}

/** The variables a reader of the environment asks for. */
function variablesRead(read: (env: Record<string, string | undefined>) => unknown): string[] {
  const asked = new Set<string>();
  const env = new Proxy(
    {},
    {
      get: (_target, name) => {
        if (typeof name === 'string') asked.add(name);
        return undefined;
      },
    },
  );
  read(env);
  return [...asked];
}

describe("README.md's configuration table", () => {
  const documented = readmeVariables();
  const schema = configurationVariables();
  const telemetry = variablesRead(loadTelemetryConfig);

  it('is read', () => {
    expect(documented.length).toBeGreaterThan(50);
    expect(new Set(documented).size).toBe(documented.length);
  });

  it('has a row for every variable of the configuration schema', () => {
    expect(schema.filter((name) => !documented.includes(name))).toEqual([]);
  });

  it('documents only variables the schema, the telemetry settings or the OpenTelemetry SDK read', () => {
    // the SDK reads the standard OTEL_* variables itself (sampler, resource attributes…)
    const unknown = documented.filter((name) => !schema.includes(name) && !telemetry.includes(name) && !name.startsWith('OTEL_'));
    expect(unknown).toEqual([]);
  });

  it('has a row for every variable the telemetry settings read', () => {
    expect(telemetry.filter((name) => !documented.includes(name))).toEqual([]);
  });

  it('lists, as the schema, every variable loadConfig reads and no other', () => {
    expect(variablesRead(loadConfig).sort()).toEqual([...schema].sort());
    expect(new Set(schema).size).toBe(schema.length);
  });
});
