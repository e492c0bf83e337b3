#!/usr/bin/env bash
# Ensure a Docker engine answers on /var/run/docker.sock.
#   up   : leave a running engine alone; otherwise install Debian's docker.io and
#          start dockerd in the background (log in $LLM_GATEWAY_RUN/dockerd.log)
#   down : stop dockerd only if this harness started it
source "$(dirname "$0")/lib.sh"
pidfile="$LLM_GATEWAY_RUN/dockerd.pid"

case "${1:-up}" in
  up)
    if docker info >/dev/null 2>&1; then log "docker engine already answers"; exit 0; fi
    command -v dockerd >/dev/null 2>&1 || apt_install docker.io
    apt_install iptables
    log "starting dockerd (log: $LLM_GATEWAY_RUN/dockerd.log)"
    setsid dockerd >"$LLM_GATEWAY_RUN/dockerd.log" 2>&1 < /dev/null &
    echo $! >"$pidfile"
    wait_for "dockerd" 60 docker info
    log "docker engine $(docker version -f '{{.Server.Version}}') up"
    ;;
  down)
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "stopping the dockerd this harness started"
      kill "$(cat "$pidfile")"; rm -f "$pidfile"
    fi
    ;;
  *) die "usage: $0 up|down" ;;
esac
