#!/usr/bin/env bash
# Stand up a host shaped like n8n's self-hosted AI starter kit: n8n on Postgres,
# both on a network of their own ("the user's compose network"), n8n's data in a
# volume, with workflows, a credential and an execution. Its Postgres asks for
# the password on its socket too (--auth-local=scram-sha-256), as hardened ones do.
#   up   PREFIX PORT DOMAIN SECRETS_DIR : PREFIX-net (SUBNET), PREFIX-postgres (alias postgres), PREFIX-n8n
#   down PREFIX                          : remove all of it (the stack's kept copy of the n8n too)
# SUBNET (default 10.220.0.0/24): outside Docker's default pools.
source "$(dirname "$0")/lib.sh"
cmd=${1:?usage}; prefix=${2:?prefix}
case "$cmd" in
  up)
    port=${3:?port}; domain=${4:?domain}; secrets=${5:?secrets dir}
    mkdir -p "$secrets"; chmod 0700 "$secrets"
    [ -s "$secrets/postgres_password" ] || { head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$secrets/postgres_password"; chmod 0600 "$secrets/postgres_password"; }
    docker network inspect "$prefix-net" >/dev/null 2>&1 \
      || docker network create --subnet "${SUBNET:-10.220.0.0/24}" "$prefix-net" >/dev/null
    if [ "$(docker container inspect -f '{{.State.Running}}' "$prefix-postgres" 2>/dev/null)" != true ]; then
      docker rm -f "$prefix-postgres" >/dev/null 2>&1 || true
      docker run -d --name "$prefix-postgres" --network "$prefix-net" --network-alias postgres \
        -e POSTGRES_USER=root -e POSTGRES_PASSWORD="$(cat "$secrets/postgres_password")" -e POSTGRES_DB=n8n \
        -e POSTGRES_INITDB_ARGS=--auth-local=scram-sha-256 \
        -v "$prefix-postgres-data:/var/lib/postgresql/data" llm-gateway-test/postgres:latest >/dev/null
    fi
    wait_for "Postgres" 60 docker exec "$prefix-postgres" pg_isready -U root -d n8n
    OLD_N8N_HISTORY=1 OLD_N8N_ARGS="--network $prefix-net -e DB_TYPE=postgresdb -e DB_POSTGRESDB_HOST=postgres \
      -e DB_POSTGRESDB_PORT=5432 -e DB_POSTGRESDB_DATABASE=n8n -e DB_POSTGRESDB_USER=root \
      -e DB_POSTGRESDB_PASSWORD=$(cat "$secrets/postgres_password") -e EXECUTIONS_DATA_PRUNE=false" \
      "$HARNESS_DIR/old-n8n.sh" up "$prefix-n8n" "$prefix-n8n-storage" "$port" "$domain" "$secrets"
    ;;
  down)
    "$HARNESS_DIR/old-n8n.sh" down "$prefix-n8n" "$prefix-n8n-storage"
    docker rm -f "$prefix-postgres" >/dev/null 2>&1 || true
    docker volume rm "$prefix-postgres-data" >/dev/null 2>&1 || true
    docker network rm "$prefix-net" >/dev/null 2>&1 || true
    ;;
  *) die "usage: $0 up PREFIX PORT DOMAIN SECRETS_DIR | down PREFIX" ;;
esac
