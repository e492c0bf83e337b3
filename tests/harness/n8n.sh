#!/usr/bin/env bash
# A pinned n8n, run headless on 127.0.0.1 for the tests. Installed once into the cache.
#
#   n8n.sh install        install node + n8n into $LLM_GATEWAY_CACHE (no-op when done)
#   n8n.sh up [PORT]      start n8n on 127.0.0.1:PORT (default 5678; task-runner broker on PORT+1),
#                         or reuse the one this harness started there; then bootstrap the owner and an
#                         API key. Prints the path of the env file (N8N_URL, N8N_API_KEY,
#                         N8N_OWNER_EMAIL, N8N_OWNER_PASSWORD) as the last line of stdout.
#   n8n.sh down [PORT]    stop the n8n this harness started on PORT (nothing else is touched)
#   n8n.sh reset [PORT]   down, then delete PORT's run folder (data, env, log): the next up starts clean
#   n8n.sh paths          print NODE_DIR=... (bin/node inside) and N8N_APP_DIR=...
#                         (node_modules/n8n/bin/n8n inside), e.g. to bind-mount them into a container
#
# Knobs (environment):
#   N8N_VERSION   n8n to install and run (default 2.41.1)
#   NODE_VERSION  node from npm's node-linux-<arch> package (default 24.21.0), or "system" for the
#                 node on PATH; defaults to "system" when N8N_VERSION's major.minor is <= 2.8
#   N8N_OWNER_EMAIL / N8N_OWNER_PASSWORD   owner created on a fresh instance (test values by default)
#   N8N_LOG_LEVEL  n8n's log level (default info)
#
# Layout:
#   $LLM_GATEWAY_CACHE/node-$NODE_VERSION/            node (bin/node, include/node, ...), .complete
#   $LLM_GATEWAY_CACHE/n8n-$N8N_VERSION/app/          npm project, node_modules/ (about 2.6 GB)
#   $LLM_GATEWAY_CACHE/n8n-$N8N_VERSION/.complete     stamp: written last, holds the install recipe
#   $LLM_GATEWAY_CACHE/npm-cache/                     private npm cache (reruns are fast)
#   $LLM_GATEWAY_RUN/n8n-$PORT/{n8n.pid,n8n.log,env,data/}   one instance; data/ is N8N_USER_FOLDER
source "$(dirname "$0")/lib.sh"

: "${N8N_VERSION:=2.41.1}"
[[ $N8N_VERSION =~ ^([0-9]+)\.([0-9]+)\.[0-9]+$ ]] || die "N8N_VERSION must be X.Y.Z, got '$N8N_VERSION'"
if [ -z "${NODE_VERSION:-}" ]; then
  # n8n <= 2.8 still supports node 20 (engines ">=20.19 <= 24.x"); newer ones want node 22/24.
  if [ "${BASH_REMATCH[1]}" -lt 2 ] || { [ "${BASH_REMATCH[1]}" -eq 2 ] && [ "${BASH_REMATCH[2]}" -le 8 ]; }; then
    NODE_VERSION=system
  else
    NODE_VERSION=24.21.0
  fi
fi

NPM_CACHE="$LLM_GATEWAY_CACHE/npm-cache"
N8N_HOME="$LLM_GATEWAY_CACHE/n8n-$N8N_VERSION"
N8N_APP_DIR="$N8N_HOME/app"
N8N_STAMP="$N8N_HOME/.complete"
PKG_TEMPLATE="$HARNESS_DIR/n8n-package.json"
BOOTSTRAP="$HARNESS_DIR/n8n_bootstrap.py"
# Fixed, test-only secret: it also derives the JWT secret, so API keys survive restarts.
TEST_ENCRYPTION_KEY="llm-gateway-test-only-encryption-key-0123456789"
START_TIMEOUT=120
STOP_TIMEOUT=30

if [ "$NODE_VERSION" = system ]; then
  sys_node=$(command -v node) || die "NODE_VERSION=system but there is no node on PATH"
  NODE_DIR=$(dirname "$(dirname "$(readlink -f "$sys_node")")")
else
  NODE_DIR="$LLM_GATEWAY_CACHE/node-$NODE_VERSION"
fi

# What the n8n install depends on; a different recipe means a reinstall.
n8n_recipe() { echo "n8n=$N8N_VERSION node=$NODE_VERSION package=$(hash_of "$PKG_TEMPLATE")"; }

node_installed() { [ "$NODE_VERSION" = system ] || { [ -f "$NODE_DIR/.complete" ] && [ -x "$NODE_DIR/bin/node" ]; }; }
n8n_installed() {
  [ -f "$N8N_STAMP" ] && [ -f "$N8N_APP_DIR/node_modules/n8n/bin/n8n" ] && [ "$(cat "$N8N_STAMP")" = "$(n8n_recipe)" ]
}

# npm (whichever is on PATH) runs under the node in $NODE_DIR/bin; private cache; quiet.
run_npm() {
  PATH="$NODE_DIR/bin:$PATH" npm_config_cache="$NPM_CACHE" npm_config_update_notifier=false \
    npm_config_fund=false npm_config_audit=false npm_config_progress=false npm "$@"
}

install_lock() {
  exec 9>"$LLM_GATEWAY_CACHE/.n8n-install.lock"
  flock 9
}

install_node() {
  node_installed && return 0
  local arch tmp tgz
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) die "no node-linux package for $(uname -m)" ;;
  esac
  log "installing node $NODE_VERSION (npm package node-linux-$arch) into $NODE_DIR"
  tmp=$(mktemp -d "$LLM_GATEWAY_CACHE/.node-$NODE_VERSION.XXXXXX")
  (cd "$tmp" && run_npm pack "node-linux-$arch@$NODE_VERSION" --silent >/dev/null) \
    || { rm -rf "$tmp"; die "npm pack node-linux-$arch@$NODE_VERSION failed"; }
  tgz=$(ls "$tmp"/node-linux-"$arch"-*.tgz)
  tar -xzf "$tgz" -C "$tmp"
  chmod 0755 "$tmp/package/bin/node"
  [ "$("$tmp/package/bin/node" --version)" = "v$NODE_VERSION" ] \
    || { rm -rf "$tmp"; die "node-linux-$arch@$NODE_VERSION does not report v$NODE_VERSION"; }
  rm -rf "$NODE_DIR"
  mv "$tmp/package" "$NODE_DIR"
  rm -rf "$tmp"
  touch "$NODE_DIR/.complete"
}

install_n8n() {
  n8n_installed && return 0
  local ilog="$N8N_HOME/install.log" nodedir="" started=$SECONDS
  log "installing n8n $N8N_VERSION into $N8N_APP_DIR with node $("$NODE_DIR/bin/node" --version) (log: $ilog)"
  rm -rf "$N8N_STAMP" "$N8N_APP_DIR"   # a half-finished install is redone from scratch
  mkdir -p "$N8N_APP_DIR"
  : >"$ilog"
  python3 - "$PKG_TEMPLATE" "$N8N_APP_DIR/package.json" "$N8N_VERSION" <<'EOF'
import json, sys
pkg = json.load(open(sys.argv[1]))
pkg["dependencies"] = {"n8n": sys.argv[3]}
with open(sys.argv[2], "w") as f:
    json.dump(pkg, f, indent=2)
    f.write("\n")
EOF
  # --ignore-scripts: n8n >= 2.4x pulls @confluentinc/kafka-javascript, whose install script
  # downloads zlib/OpenSSL sources from outside. The one native module n8n needs is sqlite3.
  # --prefer-offline: reuse cached registry metadata instead of revalidating ~2400 packuments.
  # npm does not refetch a stale packument that lacks a wanted version (ETARGET), so on failure
  # the install is retried online.
  if ! (cd "$N8N_APP_DIR" && run_npm install "n8n@$N8N_VERSION" --save-exact --ignore-scripts \
      --no-audit --no-fund --prefer-offline) >>"$ilog" 2>&1; then
    log "npm install --prefer-offline failed (last line: $(tail -n 1 "$ilog")); retrying online"
    rm -rf "$N8N_APP_DIR/node_modules" "$N8N_APP_DIR/package-lock.json"
    (cd "$N8N_APP_DIR" && run_npm install "n8n@$N8N_VERSION" --save-exact --ignore-scripts \
        --no-audit --no-fund) >>"$ilog" 2>&1 \
      || { tail -n 30 "$ilog" >&2; die "npm install n8n@$N8N_VERSION failed (log: $ilog)"; }
  fi
  log "npm install done in $((SECONDS - started)) s; building sqlite3 from source"
  command -v make >/dev/null && command -v g++ >/dev/null || apt_install build-essential
  command -v python3 >/dev/null || apt_install python3
  # Headers of the node that will run n8n (npm's global config may point nodedir elsewhere);
  # build-from-source: prebuild-install must not try to download a binary from GitHub.
  if [ -f "$NODE_DIR/include/node/node_api.h" ]; then nodedir=$NODE_DIR; fi
  (cd "$N8N_APP_DIR" && export npm_config_build_from_source=true \
      && if [ -n "$nodedir" ]; then export npm_config_nodedir="$nodedir"; fi \
      && run_npm rebuild sqlite3 --foreground-scripts) >>"$ilog" 2>&1 \
    || { tail -n 30 "$ilog" >&2; die "npm rebuild sqlite3 failed (log: $ilog)"; }
  (cd "$N8N_APP_DIR" && "$NODE_DIR/bin/node" -e 'require("sqlite3")') >>"$ilog" 2>&1 \
    || { tail -n 10 "$ilog" >&2; die "sqlite3 does not load after the rebuild (log: $ilog)"; }
  local scratch version
  scratch=$(mktemp -d)   # any n8n CLI call writes $N8N_USER_FOLDER/.n8n/config
  version=$(cd "$scratch" && env -u N8N_ENCRYPTION_KEY HOME="$scratch" N8N_USER_FOLDER="$scratch" \
      PATH="$NODE_DIR/bin:$PATH" node "$N8N_APP_DIR/node_modules/n8n/bin/n8n" --version 2>>"$ilog" | tail -n 1) || true
  rm -rf "$scratch"
  [ "$version" = "$N8N_VERSION" ] || die "n8n --version printed '$version', expected $N8N_VERSION (log: $ilog)"
  n8n_recipe >"$N8N_STAMP"
  log "n8n $N8N_VERSION installed in $((SECONDS - started)) s ($(du -sh "$N8N_APP_DIR" 2>/dev/null | cut -f1))"
}

cmd_install() {
  # Fast path without the lock: both stamps present and current.
  if node_installed && n8n_installed; then return 0; fi
  mkdir -p "$NPM_CACHE" "$N8N_HOME"
  install_lock
  install_node
  install_n8n
}

# ---------------------------------------------------------------------------------------------
# Instances

port_arg() {
  local port=${1:-5678}
  [[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65534 ] || die "bad port '$port'"
  echo "$port"
}

set_instance() {  # set_instance PORT : paths of that port's instance
  PORT=$1
  RUN_DIR="$LLM_GATEWAY_RUN/n8n-$PORT"
  DATA_DIR="$RUN_DIR/data"
  PID_FILE="$RUN_DIR/n8n.pid"
  LOG_FILE="$RUN_DIR/n8n.log"
  ENV_FILE="$RUN_DIR/env"
}

instance_lock() {
  mkdir -p "$LLM_GATEWAY_RUN"
  exec 8>"$LLM_GATEWAY_RUN/.n8n-$PORT.lock"
  flock 8
}

alive() {  # alive PID : the process exists and is not a zombie
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# PID of the n8n this harness started for this port, if it still runs (checked by its
# N8N_USER_FOLDER, so a recycled PID is never mistaken for ours).
our_pid() {
  local pid
  [ -s "$PID_FILE" ] || return 1
  pid=$(cat "$PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "N8N_USER_FOLDER=$DATA_DIR" || return 1
  echo "$pid"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_n8n() {
  local p
  for p in "$PORT" "$((PORT + 1))"; do
    port_busy "$p" && die "127.0.0.1:$p is taken by something this harness did not start"
  done
  # Modules of newer n8n versions that call out on start; named only if this version has them
  # (an unknown name in N8N_DISABLED_MODULES stops n8n).
  local m disabled=""
  for m in mcp-registry; do
    [ -d "$N8N_APP_DIR/node_modules/n8n/dist/modules/$m" ] && disabled="${disabled:+$disabled,}$m"
  done
  mkdir -p "$DATA_DIR"
  chmod 0700 "$RUN_DIR"
  rm -f "$PID_FILE"
  printf '\n==== %s: starting n8n %s on 127.0.0.1:%s\n' "$(date -Is)" "$N8N_VERSION" "$PORT" >>"$LOG_FILE"
  # A clean environment: only what is listed here reaches n8n. The subshell drops every inherited
  # fd (our locks, a caller's pipes) and the caller's stdout/stderr, then execs: nothing lingers
  # next to n8n (a lingering holder of stdout would hang a caller's $(n8n.sh up)).
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null || true
    done
    exec </dev/null >>"$LOG_FILE" 2>&1
    cd "$RUN_DIR"
    exec setsid env -i \
    HOME="$RUN_DIR" LANG=C.UTF-8 TZ=UTC \
    PATH="$NODE_DIR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    NODE_ENV=production \
    N8N_USER_FOLDER="$DATA_DIR" \
    N8N_ENCRYPTION_KEY="$TEST_ENCRYPTION_KEY" \
    DB_TYPE=sqlite \
    N8N_HOST=127.0.0.1 \
    N8N_PORT="$PORT" \
    N8N_LISTEN_ADDRESS=127.0.0.1 \
    N8N_PROTOCOL=http \
    N8N_RUNNERS_BROKER_PORT="$((PORT + 1))" \
    N8N_RUNNERS_BROKER_LISTEN_ADDRESS=127.0.0.1 \
    N8N_SECURE_COOKIE=false \
    N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS=true \
    N8N_DIAGNOSTICS_ENABLED=false \
    N8N_VERSION_NOTIFICATIONS_ENABLED=false \
    N8N_VERSION_NOTIFICATIONS_WHATS_NEW_ENABLED=false \
    N8N_PERSONALIZATION_ENABLED=false \
    N8N_TEMPLATES_ENABLED=false \
    N8N_DYNAMIC_BANNERS_ENABLED=false \
    N8N_HIRING_BANNER_ENABLED=false \
    N8N_LICENSE_AUTO_RENEW_ENABLED=false \
    N8N_PUBLIC_API_DISABLED=false \
    N8N_PUBLIC_API_SWAGGERUI_DISABLED=true \
    N8N_BLOCK_ENV_ACCESS_IN_NODE=true \
    N8N_GIT_NODE_DISABLE_BARE_REPOS=true \
    N8N_LOG_LEVEL="${N8N_LOG_LEVEL:-info}" \
    N8N_LOG_OUTPUT=console \
    ${disabled:+N8N_DISABLED_MODULES="$disabled"} \
    bash -c 'echo $$ >"$0"; exec node "$1" start' "$PID_FILE" "$N8N_APP_DIR/node_modules/n8n/bin/n8n"
  ) &
  wait_for "n8n's pid file" 10 test -s "$PID_FILE"
}

stop_pid() {  # stop_pid PID : SIGTERM, wait (bounded), then clear its process group
  local pid=$1 deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "n8n (pid $pid) still runs ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL to its process group"
      kill -KILL -- "-$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  # setsid made n8n a group leader: the task runner child is in its group.
  if kill -0 -- "-$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    sleep 1
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
}

cmd_up() {
  local pid started_here="" t0=$SECONDS
  set_instance "$(port_arg "${1:-}")"
  cmd_install
  instance_lock
  if pid=$(our_pid); then
    log "reusing n8n (pid $pid) on 127.0.0.1:$PORT"
  else
    log "starting n8n $N8N_VERSION on 127.0.0.1:$PORT (broker :$((PORT + 1)); log: $LOG_FILE)"
    start_n8n
    pid=$(cat "$PID_FILE")
    started_here=1
  fi
  if ! N8N_OWNER_EMAIL="${N8N_OWNER_EMAIL:-}" N8N_OWNER_PASSWORD="${N8N_OWNER_PASSWORD:-}" \
      python3 "$BOOTSTRAP" --url "http://127.0.0.1:$PORT" --env-file "$ENV_FILE" \
        --pid "$pid" --timeout "$START_TIMEOUT"; then
    log "last lines of $LOG_FILE:"; tail -n 25 "$LOG_FILE" >&2 || true
    if [ -n "$started_here" ]; then stop_pid "$pid"; rm -f "$PID_FILE"; fi
    die "n8n on 127.0.0.1:$PORT did not come up / bootstrap failed"
  fi
  log "n8n up on http://127.0.0.1:$PORT (pid $pid) in $((SECONDS - t0)) s"
  echo "$ENV_FILE"
}

cmd_down() {
  local pid
  set_instance "$(port_arg "${1:-}")"
  instance_lock
  if pid=$(our_pid); then
    log "stopping n8n (pid $pid) on 127.0.0.1:$PORT"
    stop_pid "$pid"
  else
    log "no n8n started by this harness runs on port $PORT"
  fi
  rm -f "$PID_FILE"
}

cmd_reset() {
  cmd_down "${1:-}"
  log "deleting $RUN_DIR"
  rm -rf "$RUN_DIR"
}

cmd_paths() {
  echo "NODE_DIR=$NODE_DIR"
  echo "N8N_APP_DIR=$N8N_APP_DIR"
  node_installed && n8n_installed || log "warning: not installed yet; run: $0 install"
}

case "${1:-}" in
  install) cmd_install ;;
  up) cmd_up "${2:-}" ;;
  down) cmd_down "${2:-}" ;;
  reset) cmd_reset "${2:-}" ;;
  paths) cmd_paths ;;
  *) die "usage: $0 install | up [PORT] | down [PORT] | reset [PORT] | paths" ;;
esac
