# Shared helpers for the test harness. Sourced, never executed.
# Everything the harness installs or builds is cached outside the work tree,
# so a fresh clone on the same machine reuses it.
set -euo pipefail

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HARNESS_DIR/../.." && pwd)
: "${LLM_GATEWAY_CACHE:=/var/cache/llm_gateway_test}"
: "${LLM_GATEWAY_RUN:=/var/tmp/llm_gateway_test/run}"
export LLM_GATEWAY_CACHE LLM_GATEWAY_RUN
mkdir -p "$LLM_GATEWAY_CACHE" "$LLM_GATEWAY_RUN"

log() { printf '[harness] %s\n' "$*" >&2; }
die() { printf '[harness] ERROR: %s\n' "$*" >&2; exit 1; }

# hash_of FILE... -> short sha256 of the files' contents (recipe fingerprint)
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

apt_updated=""
apt_install() {
  # apt_install PKG... : install Debian packages that are missing
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null; apt_updated=1; fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# wait_for DESCRIPTION SECONDS COMMAND... : poll COMMAND every 0.5 s until it succeeds
wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || die "timed out after ${secs}s waiting for $what"
    sleep 0.5
  done
}
