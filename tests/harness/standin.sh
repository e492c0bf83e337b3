#!/usr/bin/env bash
# Run the Ollama stand-in on the Docker host, like an Ollama installed there.
#   up   [NAME PORT]  : serve on the Docker bridge's gateway address (what containers
#                       reach as host.docker.internal) with Ollama's host check ON, as
#                       Docker Desktop forwarding to a loopback-bound Ollama would be.
#                       With OLLAMA_HOST set, serve where Ollama would for that value
#                       instead (PORT unused), with the host check as Ollama decides
#                       it (on only for a loopback address): the Linux host kinds.
#   down [NAME]       : stop it
#   addr              : print the bridge gateway address
# Environment: STANDIN_MODELS, STANDIN_TOKEN_DELAY_MS, STANDIN_HOST_CHECK, OLLAMA_HOST.
source "$(dirname "$0")/lib.sh"
# The address of the default bridge on the host: what host-gateway resolves to.
bridge_ip() {
  local ip
  ip=$(docker network inspect bridge -f '{{ range .IPAM.Config }}{{ .Gateway }}{{ end }}')
  [ -n "$ip" ] || ip=$(ip -4 -o addr show docker0 | awk '{ split($4, a, "/"); print a[1]; exit }')
  [ -n "$ip" ] || die "cannot find the Docker bridge's address"
  echo "$ip"
}
name=${2:-standin}
port=${3:-11434}
dir="$LLM_GATEWAY_RUN/$name"
case "${1:-up}" in
  addr) bridge_ip ;;
  up)
    mkdir -p "$dir"
    if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      log "stand-in $name already runs"; exit 0
    fi
    if [ -n "${OLLAMA_HOST:-}" ]; then
      where=(--host-check "${STANDIN_HOST_CHECK:-auto}")
      read -r ip port < <(cd "$REPO_ROOT/tests/ollama_standin" && python3 -c \
        'import os, ollama_standin as s; h, p = s.ollama_host_env(os.environ.get("OLLAMA_HOST")); print("127.0.0.1" if h in ("0.0.0.0", "::") else h, p)')
    else
      ip=$(bridge_ip)
      where=(--host "$ip" --port "$port" --host-check "${STANDIN_HOST_CHECK:-on}")
    fi
    setsid python3 "$REPO_ROOT/tests/ollama_standin/ollama_standin.py" \
      "${where[@]}" --name "$name" \
      --models "${STANDIN_MODELS:-llama3:latest}" \
      --token-delay-ms "${STANDIN_TOKEN_DELAY_MS:-0}" \
      --log "$dir/requests.jsonl" >"$dir/stderr.log" 2>&1 < /dev/null &
    echo $! >"$dir/pid"
    wait_for "the stand-in $name on $ip:$port" 20 curl -sf "http://$ip:$port/_standin/state"
    log "Ollama stand-in $name: $(curl -sf "http://$ip:$port/_standin/state" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["listen"], "host check", s["host_check"])')"
    ;;
  down)
    if [ -f "$dir/pid" ]; then kill "$(cat "$dir/pid")" 2>/dev/null || true; rm -f "$dir/pid"; fi
    ;;
  *) die "usage: $0 up|down|addr [NAME PORT]" ;;
esac
