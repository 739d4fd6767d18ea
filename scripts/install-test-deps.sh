#!/usr/bin/env bash
# Installs the real servers the test suite starts privately: PostgreSQL 15, Redis 7,
# Prometheus (promtool) and Alertmanager (amtool). Idempotent; quiet when all are present.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "installing test dependencies: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# keep package scripts from starting system-wide services; the tests start private ones
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# stop anything a package started anyway, so ports and data stay the tests' own
for service in postgresql redis-server prometheus prometheus-alertmanager; do
  (service "$service" stop >/dev/null 2>&1 || true)
done
