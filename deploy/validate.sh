#!/usr/bin/env bash
# Schema check of the Kubernetes manifests in deploy/k8s/ (strict: unknown fields are errors) against
# Kubernetes 1.30 and the newest schema kubernetes-validate ships, offline: the schemas come with the
# PyPI package, installed into a venv under bench-out/. No cluster is needed (kubectl's own validation
# downloads the schema from a live API server). The Dockerfile is not built here: this machine's docker
# CLI has no engine; build it with `docker build -f deploy/Dockerfile .` where one runs.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=bench-out/scale/venv-k8s
if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet kubernetes-validate
fi
for version in 1.30.0 default; do
    args=(--strict)
    [ "$version" = default ] || args+=(-k "$version")
    "$VENV/bin/kubernetes-validate" "${args[@]}" deploy/k8s/*.yaml
done
# Every probe and port the manifests name exists in the service.
grep -q 'path: /ready' deploy/k8s/deployment.yaml
grep -q 'path: /health' deploy/k8s/deployment.yaml
grep -q '"/ready"' src/http/mod.rs
grep -q '"/health"' src/http/mod.rs
echo "deploy/k8s: all manifests valid"
