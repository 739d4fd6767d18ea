/**
 * Lists imports in src/ that cross a module boundary through anything but the module's index.ts.
 *
 * The rule (the ESLint boundaries rule enforces the same one):
 * - a module is a folder directly under src/ (tenants/, ingestion/, vector-store/ ...);
 * - inside its own folder a file imports whatever it likes;
 * - from another module it imports only `<module>/index.ts` (written `'../<module>'`);
 * - the shared folders (SHARED below: cross-cutting helpers, configuration, text analysis,
 *   telemetry) may be imported at any path by everyone; they import no module, except telemetry's
 *   TelemetryModule and BusinessGauges, which read the database, knowledge-base and tenant modules
 *   through their index.ts (nothing imports those two but app.module.ts, so no cycle);
 * - the files at src/ top level (main.ts, app.module.ts, app.factory.ts, instrumentation.ts) are the
 *   composition root and follow the same rule;
 * - type-only imports count too; test/, bench/ and scripts/ are not held to it.
 *
 * Run: `npx tsx scripts/module-boundaries.ts` (exit code 1 when it finds one).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const SHARED = new Set(['common', 'config', 'text', 'telemetry']);

const srcRoot = resolve(__dirname, '..', 'src');

function* tsFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* tsFiles(path);
    else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) yield path;
  }
}

/** `tenants` for src/tenants/x.ts; '' for a top-level file */
function moduleOf(file: string): string {
  const parts = relative(srcRoot, file).split(sep);
  return parts.length > 1 ? parts[0] : '';
}

function resolveImport(from: string, specifier: string): string {
  const base = resolve(dirname(from), specifier);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts'), base]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // try the next form
    }
  }
  return base;
}

const importPattern = /(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|import\('(\.[^']+)'\)|require\('(\.[^']+)'\)/g;
const violations: string[] = [];
for (const file of tsFiles(srcRoot)) {
  const source = readFileSync(file, 'utf8');
  const own = moduleOf(file);
  for (const match of source.matchAll(importPattern)) {
    const specifier = match[1] ?? match[2] ?? match[3];
    const target = resolveImport(file, specifier);
    const targetModule = moduleOf(target);
    if (targetModule === own || targetModule === '' || SHARED.has(targetModule)) continue;
    if (target === join(srcRoot, targetModule, 'index.ts')) continue;
    violations.push(`${relative(srcRoot, file)} -> ${relative(srcRoot, target)}`);
  }
}
for (const violation of violations) console.log(violation);
console.log(`${violations.length} import(s) into another module's internals`);
process.exitCode = violations.length > 0 ? 1 : 0;
