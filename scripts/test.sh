#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, builds, runs every test.
# Private PostgreSQL, Redis and Prometheus servers are started (random loopback ports) and
# stopped by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
if [ ! -d node_modules ] || ! cmp -s package-lock.json node_modules/.package-lock.json.ci-stamp; then
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.package-lock.json.ci-stamp
fi
# The whole suite lints first (fails fast, before the build); a run of chosen test files does not.
if [ "$#" -eq 0 ]; then
  npm run lint
fi
npm run build
npx vitest run "$@"
