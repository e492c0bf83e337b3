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

run_litellm() {
  # Phase 2 route (nginx + LiteLLM) vs direct, role settings vs LiteLLM's
  # defaults, in containers of its own (removed at the end). Extra arguments
  # go to the script, e.g. `bench/run.sh litellm --candidates granian`.
  tests/harness/run.sh engine venv compose base-image images >/dev/null
  "$LLM_GATEWAY_CACHE/venv/bin/python" bench/litellm_gateway.py --out bench/results/litellm_gateway.json "$@"
}

run_rerun() {
  # A no-op re-run of site.yml on the demo, phase 1 then phase 2 (the demo stays up).
  rm -f bench/results/noop_rerun.json
  eval "$(tests/harness/demo.sh env)"
  for phase in 1 2; do
    LLM_GATEWAY_DEMO_PHASE=$phase tests/harness/demo.sh up >/dev/null
    "$LLM_GATEWAY_CACHE/venv/bin/python" bench/noop_rerun.py --phase "$phase"
  done
}

run_queue() {
  # n8n in queue mode: executions per second with 1 vs 2 workers, on a stack of
  # its own (removed at the end).
  tests/harness/run.sh engine venv compose base-image images standin n8n-install collection-link >/dev/null
  "$LLM_GATEWAY_CACHE/venv/bin/python" bench/queue_workers.py "$@"
}

case "$only" in
  all) run_route; run_n8n; run_litellm; run_rerun; run_queue ;;
  route) run_route ;;
  n8n) run_n8n ;;
  litellm) shift; run_litellm "$@" ;;
  rerun) run_rerun ;;
  queue) shift; run_queue "$@" ;;
  *) die "usage: $0 [all|route|n8n|litellm [ARGS...]|rerun|queue [ARGS...]]" ;;
esac
