#!/usr/bin/env bash
# Installs the Prometheus and Alertmanager binaries the observability tests run
# (prometheus + promtool, alertmanager + amtool) from Debian's packages, when missing.
# Idempotent and quiet: nothing is downloaded when the tools are already there, the package
# lists are refreshed only when apt cannot find the packages, and the services the packages
# would start are kept from starting (the tests run private instances on random ports).
set -euo pipefail

need=()
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 && command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else
    echo "install-tools: need root (or sudo) to apt-get install ${need[*]}" >&2; exit 1
  fi
else
  SUDO=()
fi

# Keep maintainer scripts from starting the daemons: a policy-rc.d that denies every start,
# only for the length of this install when the machine has none of its own.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 0755 "$policy"
  own_policy=1
fi
cleanup() { [ "$own_policy" -eq 1 ] && "${SUDO[@]}" rm -f "$policy"; return 0; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
candidate_missing=0
for p in "${need[@]}"; do
  if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then candidate_missing=1; fi
done
log=$(mktemp)
trap 'cleanup; rm -f "$log"' EXIT
if [ "$candidate_missing" -eq 1 ]; then
  "${SUDO[@]}" apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
fi
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }

# Belt and braces for machines with an init that ignores policy-rc.d: stop any daemon the
# packages started (only those of the package users, never anything else).
for user in prometheus; do
  if pids=$(pgrep -u "$user" -x 'prometheus|prometheus-alertmanager' 2>/dev/null); then
    for pid in $pids; do "${SUDO[@]}" kill "$pid" 2>/dev/null || true; done
  fi
done

command -v promtool >/dev/null && command -v amtool >/dev/null && command -v prometheus-alertmanager >/dev/null
