#!/usr/bin/env bash
# Stand up "the user's current n8n": a container of the n8n test image with its
# own data volume, an owner, an API key and workflows that call Ollama through
# the public https://llm.<domain>/api/generate, as before phase 1. The stack
# then adopts that volume (llm_gateway_n8n_data) and retires the container.
#   up   NAME VOLUME PORT DOMAIN SECRETS_DIR : start, bootstrap, seed (idempotent)
#   down NAME VOLUME                         : remove the container (and the copy the stack kept
#                                              of it, NAME-pre-llm-gateway) and the volume
# SECRETS_DIR receives n8n.env (N8N_URL, N8N_API_KEY, ...) and encryption_key.
# OLD_N8N_ARGS: more `docker run` arguments (a network, DB_* variables); with
# OLD_N8N_HISTORY=1 a credential and an execution are seeded too.
source "$(dirname "$0")/lib.sh"
image=${N8N_TEST_IMAGE:-llm-gateway-test/n8n:latest}
cmd=${1:?usage}; name=${2:?name}; volume=${3:?volume}

case "$cmd" in
  up)
    port=${4:?port}; domain=${5:?domain}; secrets=${6:?secrets dir}
    mkdir -p "$secrets"; chmod 0700 "$secrets"
    [ -s "$secrets/encryption_key" ] || { head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$secrets/encryption_key"; chmod 0600 "$secrets/encryption_key"; }
    eval "$("$HARNESS_DIR/n8n.sh" paths)"
    if [ "$(docker container inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
      docker rm -f "$name" >/dev/null 2>&1 || true
      docker volume create "$volume" >/dev/null
      docker run -d --name "$name" \
        -v "$volume:/home/node/.n8n" \
        -v "$NODE_DIR:/opt/node:ro" -v "$N8N_APP_DIR:/opt/n8n:ro" \
        -p "127.0.0.1:$port:5678" \
        -e "N8N_ENCRYPTION_KEY=$(cat "$secrets/encryption_key")" \
        -e N8N_SECURE_COOKIE=false -e N8N_DIAGNOSTICS_ENABLED=false \
        -e N8N_VERSION_NOTIFICATIONS_ENABLED=false -e N8N_TEMPLATES_ENABLED=false \
        -e N8N_DYNAMIC_BANNERS_ENABLED=false -e N8N_PERSONALIZATION_ENABLED=false \
        -e N8N_LICENSE_AUTO_RENEW_ENABLED=false -e N8N_DISABLED_MODULES=mcp-registry \
        ${OLD_N8N_ARGS:-} "$image" >/dev/null
    fi
    python3 "$HARNESS_DIR/n8n_bootstrap.py" --url "http://127.0.0.1:$port" --env-file "$secrets/n8n.env" --timeout 180
    # shellcheck disable=SC1091
    set -a; source "$secrets/n8n.env"; set +a
    python3 "$HARNESS_DIR/seed_workflows.py" --url "http://127.0.0.1:$port" --domain "$domain" \
      ${OLD_N8N_HISTORY:+--history}
    ;;
  down)
    docker rm -f "$name" "$name-pre-llm-gateway" >/dev/null 2>&1 || true
    docker volume rm "$volume" >/dev/null 2>&1 || true
    ;;
  *) die "usage: $0 up|down ..." ;;
esac
