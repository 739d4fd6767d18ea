import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    globals: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
  // SWC keeps decorator metadata, which Nest's dependency injection needs
  plugins: [swc.vite({ module: { type: 'es6' } })],
});
