#!/usr/bin/env bash
# `make demo`: deploy the stack on this machine with playbooks/site.yml against
# inventory/local, starting from "a user's current n8n" whose workflow calls the
# public URL. `make demo-down` removes everything the demo created. `demo.sh env`
# prints the environment inventory/local needs (for running the playbooks by hand).
# The phase: LLM_GATEWAY_DEMO_PHASE (`make demo PHASE=2`), 1 by default.
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
root=/srv/llm-gateway-demo
secrets=/srv/llm-gateway-demo-secrets
phase=${LLM_GATEWAY_DEMO_PHASE:-1}

# What inventory/local reads from the environment: n8n's node and app folders
# (mounted into the demo's n8n) and the stand-in's address.
demo_env() {
  eval "$(tests/harness/n8n.sh paths)"
  printf 'export LLM_GATEWAY_N8N_NODE_DIR=%q LLM_GATEWAY_N8N_APP_DIR=%q LLM_GATEWAY_STANDIN_ADDR=%q\n' \
    "$NODE_DIR" "$N8N_APP_DIR" "$(tests/harness/standin.sh addr)"
}

case "${1:-up}" in
  env) demo_env ;;
  up)
    case "$phase" in 1|2) ;; *) die "the demo's phase (make demo PHASE=..., LLM_GATEWAY_DEMO_PHASE) is 1 or 2, not $phase" ;; esac
    tests/harness/run.sh engine venv compose base-image images standin n8n-install collection-link
    eval "$(demo_env)"
    if [ ! -f "$root/docker-compose.yml" ]; then
      tests/harness/old-n8n.sh up llm-gateway-demo-old-n8n llm-gateway-demo-old-n8n 15681 demo.test "$secrets"
    fi
    [ -s "$secrets/public_ollama_key" ] || { head -c 30 /dev/urandom | base64 | tr -d '/+=' >"$secrets/public_ollama_key"; chmod 0600 "$secrets/public_ollama_key"; }
    # LiteLLM's master key (phase 2): "sk-" and 64 hex digits.
    [ -s "$secrets/litellm_master_key" ] || { printf 'sk-%s' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$secrets/litellm_master_key"; chmod 0600 "$secrets/litellm_master_key"; }
    PATH="$LLM_GATEWAY_CACHE/venv/bin:$PATH" ansible-playbook -i inventory/local playbooks/site.yml -e "llm_gateway_phase=$phase"
    if [ "$phase" = 1 ]; then
      cat <<MSG

The LLM gateway runs (phase 1). nginx listens on 127.0.0.1:8080 (cloudflared would connect here):
  n8n editor        curl -H 'Host: n8n.demo.test' http://127.0.0.1:8080/
  public LLM API    curl -H 'Host: llm.demo.test' -H "Authorization: Bearer \$(cat $secrets/public_ollama_key)" http://127.0.0.1:8080/api/tags
                    (without the key 401, and model management such as /api/pull is never public: 404)
  n8n API           http://127.0.0.1:15680 (key: N8N_API_KEY in $secrets/n8n.env)

The internal route, as n8n calls it from the Docker network:
  docker run --rm --network llama-network llm-gateway-test/base:bookworm \\
    curl -s http://llama-nginx/api/generate -d '{"model": "llama3", "prompt": "Why is the sky blue?", "stream": false}'

The migrated workflow "LLM webhook", triggered through nginx:
  curl -s -H 'Host: webhooks.demo.test' -H 'Content-Type: application/json' \\
    -d '{"prompt": "Why is the sky blue?"}' http://127.0.0.1:8080/webhook/llm-ask
The LangChain workflow "LLM chain" (its Ollama Chat Model moved to the credential "Ollama (llama-nginx)"):
  curl -s -H 'Host: webhooks.demo.test' -H 'Content-Type: application/json' \\
    -d '{"prompt": "Why is the sky blue?"}' http://127.0.0.1:8080/webhook/llm-chain

On to phase 2: make demo PHASE=2. Remove it all with: make demo-down
MSG
    else
      cat <<MSG

The LLM gateway runs (phase 2: LiteLLM behind nginx). nginx listens on 127.0.0.1:8080 (cloudflared would connect here):
  n8n editor        curl -H 'Host: n8n.demo.test' http://127.0.0.1:8080/
  public LLM API    curl -s -H 'Host: llm.demo.test' -H "Authorization: Bearer \$(cat $secrets/litellm_master_key)" \\
                      -H 'Content-Type: application/json' http://127.0.0.1:8080/v1/chat/completions \\
                      -d '{"model": "llama3", "messages": [{"role": "user", "content": "Why is the sky blue?"}]}'
                    (without the key nginx answers 401; LiteLLM's admin routes and Ollama's /api/ are 404 there)
  models, health    curl -s -H 'Host: llm.demo.test' -H "Authorization: Bearer \$(cat $secrets/litellm_master_key)" http://127.0.0.1:8080/v1/models
                    curl -s -H 'Host: llm.demo.test' http://127.0.0.1:8080/health
  n8n API           http://127.0.0.1:15680 (key: N8N_API_KEY in $secrets/n8n.env)

The internal routes, from the Docker network: LiteLLM (with the key) and Ollama (as in phase 1):
  docker run --rm --network llama-network llm-gateway-test/base:bookworm \\
    curl -s -H "Authorization: Bearer \$(cat $secrets/litellm_master_key)" -H 'Content-Type: application/json' \\
      http://llama-litellm:4000/v1/chat/completions -d '{"model": "llama3", "messages": [{"role": "user", "content": "Why is the sky blue?"}]}'
  docker run --rm --network llama-network llm-gateway-test/base:bookworm \\
    curl -s http://llama-nginx/api/generate -d '{"model": "llama3", "prompt": "Why is the sky blue?", "stream": false}'

The workflow "LLM webhook", moved to LiteLLM (its key in the n8n credential "LiteLLM"), triggered through nginx:
  curl -s -H 'Host: webhooks.demo.test' -H 'Content-Type: application/json' \\
    -d '{"prompt": "Why is the sky blue?"}' http://127.0.0.1:8080/webhook/llm-ask
The LangChain workflow "LLM chain" (its Ollama Chat Model on the credential "Ollama (llama-nginx)"):
  curl -s -H 'Host: webhooks.demo.test' -H 'Content-Type: application/json' \\
    -d '{"prompt": "Why is the sky blue?"}' http://127.0.0.1:8080/webhook/llm-chain

Back to phase 1: make demo-down, then make demo. Remove it all with: make demo-down
MSG
    fi
    ;;
  down)
    if [ -f "$root/docker-compose.yml" ]; then
      docker compose --project-directory "$root" down --remove-orphans --volumes --timeout 20 || true
    fi
    tests/harness/old-n8n.sh down llm-gateway-demo-old-n8n llm-gateway-demo-old-n8n
    rm -rf "$root" "$secrets"
    log "demo removed (the stand-in and the harness's images stay; tests/harness/standin.sh down stops the stand-in)"
    ;;
  *) die "usage: $0 up|down" ;;
esac
