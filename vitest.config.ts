import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

/**
 * Tests under test/unit that are not fast: multi-megabyte inputs timed for linear growth, parser
 * threads stopped at their time and heap limits, the SciFact data sets. They run with the whole
 * suite, not in `npm run test:unit`.
 */
const HEAVY_UNIT_TESTS = [
  'test/unit/ingestion/chunking/linear-time.test.ts',
  'test/unit/ingestion/chunking/hostile-text.test.ts',
  'test/unit/ingestion/chunking/scifact-throughput.test.ts',
  'test/unit/ingestion/parsing/document-processor.test.ts',
  'test/unit/bench/quality/scifact-quality.test.ts',
];

export default defineConfig({
  test: {
    environment: 'node',
    globals: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
    // `npx vitest run` runs every project: the whole suite. `npm run test:unit` runs `unit` alone:
    // no build, no install, no database server (SQLite files and in-process fakes only), and with
    // --no-isolate (one module registry per worker, not per file: 68 s against 209 s wall, 23 s
    // against 67 s CPU, on this 2-core machine at load 10); the whole suite keeps files isolated.
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], exclude: HEAVY_UNIT_TESTS } },
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: ['test/unit/**'] } },
      { extends: true, test: { name: 'unit-heavy', include: HEAVY_UNIT_TESTS } },
    ],
  },
  // SWC keeps decorator metadata, which Nest's dependency injection needs
  plugins: [swc.vite({ module: { type: 'es6' } })],
});
