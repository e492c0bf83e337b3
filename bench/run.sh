#!/usr/bin/env bash
# `make bench`: every benchmark, each comparing two ways side by side in one run.
# Results (JSON) go to bench/results/. Everything stays on this machine.
source "$(dirname "$0")/../tests/harness/lib.sh"
cd "$REPO_ROOT"
mkdir -p bench/results
only=${1:-all}

run_route() {
  # Phase 1 route vs direct, from a client container on llama-network.
  tests/harness/demo.sh up >/dev/null
  docker run --rm --network llama-network --add-host host.docker.internal:host-gateway \
    -v "$REPO_ROOT/bench:/bench:ro" -v "$REPO_ROOT/bench/results:/results" \
    llm-gateway-test/base:bookworm python3 /bench/route_latency.py --out /results/route_latency.json
}

run_n8n() {
  tests/harness/run.sh venv n8n-install collection-link >/dev/null
  "$LLM_GATEWAY_CACHE/venv/bin/python" bench/n8n_workflow_urls.py
}

case "$only" in
  all) run_route; run_n8n ;;
  route) run_route ;;
  n8n) run_n8n ;;
  *) die "usage: $0 [all|route|n8n]" ;;
esac
