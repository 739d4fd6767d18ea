// ESLint flat config: typescript-eslint's type-aware recommended rules over every TypeScript file
// (ESLint's recommended ones over the few JavaScript files), the module-boundaries rule over src/,
// and eslint-config-prettier last so that layout is Prettier's alone.
import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

// Folders under src/ that every module may import from, at any path. telemetry/ is among them: its
// spans and instruments serve every module, and instrumentation.ts must load its SDK first of all.
const SHARED_FOLDERS = ['common', 'config', 'text', 'telemetry'];

// Node's globals for the few plain-JavaScript files (the `globals` package is not a dependency).
const NODE_GLOBALS = Object.fromEntries(
  ['require', 'module', 'exports', '__dirname', '__filename', 'process', 'console', 'Buffer', 'URL', 'performance']
    .concat(['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate'])
    .map((name) => [name, 'readonly']),
);

export default tseslint.config(
  {
    ignores: ['dist/**', 'coverage/**', 'node_modules/**', 'helm/**', 'observability/**', 'otel-collector/**'],
  },
  // a disable comment that no longer silences anything is an error, so none outlives its reason
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  {
    files: ['**/*.{js,cjs,mjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: NODE_GLOBALS },
  },
  {
    // package.json has no "type": plain .js files are CommonJS
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Off: adapters implement async ports without awaiting, and `async` turns their throws into rejections.
      '@typescript-eslint/require-await': 'off',
      // Abort reasons are `any`; accept them as only-throw-error does by default, still refusing literals.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // `_`-prefixed names are deliberately unused (interface-shaped parameters, skipped tuple items)
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Tests and benchmarks read untyped JSON (HTTP bodies, rendered manifests, OTLP payloads, dataset
    // files) and their assertions are the type checks: the any-tracking rules would only add casts.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Module boundaries: a module is a folder directly under src/. From another module, a file may
    // import only that module's index.ts (its public surface); the shared folders are open to all.
    files: ['src/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'import/resolver': { node: { extensions: ['.ts', '.d.ts', '.js'] } },
      'boundaries/include': ['src/**/*.ts'],
      'boundaries/dependency-nodes': ['import', 'export', 'dynamic-import', 'require'],
      'boundaries/elements': [
        { type: 'shared', pattern: `src/(${SHARED_FOLDERS.join('|')})` },
        { type: 'module', pattern: 'src/*', capture: ['name'] },
      ],
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'allow',
          policies: [
            {
              disallow: {
                to: {
                  element: {
                    type: 'module',
                    fileInternalPath: '!index.ts',
                    captured: { name: '!{{ from.element.captured.name }}' },
                  },
                },
              },
              message:
                'import another module through its index.ts: {{ to.element.captured.name }}/{{ to.element.fileInternalPath }} is internal',
            },
          ],
        },
      ],
    },
  },
  {
    // The composition root (src/*.ts) follows the same rule. The plugin cannot make src/ itself an
    // element without swallowing the modules under it, so a path pattern does it here.
    files: ['src/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^\\./(?!(${SHARED_FOLDERS.join('|')})/)[^/]+/.+`,
              message: "import another module through its index.ts ('./<module>'), not its internals",
            },
          ],
        },
      ],
    },
  },
  prettier,
);
