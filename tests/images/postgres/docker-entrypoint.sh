#!/usr/bin/env bash
# Like the official image's entrypoint: initialise an empty PGDATA from
# POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB (each also from NAME_FILE, read
# after dropping to postgres, as the official image does), listen on every address,
# password authentication from the network (and on the socket with
# POSTGRES_INITDB_ARGS=--auth-local=...), then run postgres as postgres.
set -euo pipefail
if [ "${1:-}" = postgres ]; then
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" && chown -R postgres:postgres "$PGDATA" && chmod 0700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
  fi
  for var in POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB; do
    file_var="${var}_FILE"
    if [ -n "${!file_var:-}" ]; then
      [ -z "${!var:-}" ] || { echo "both $var and $file_var are set (but are exclusive)" >&2; exit 1; }
      export "$var"="$(< "${!file_var}")"
    fi
  done
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    pwfile=$(mktemp); printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
    # POSTGRES_INITDB_ARGS as the official image (e.g. --auth-local=scram-sha-256:
    # a password on the socket too); given last, they win.
    # shellcheck disable=SC2086
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
      ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA" >/dev/null
    rm -f "$pwfile"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if [ "$db" != postgres ]; then
      PGPASSWORD="$POSTGRES_PASSWORD" psql -v ON_ERROR_STOP=1 --username "$user" --dbname postgres \
        -c "CREATE DATABASE \"$db\"" >/dev/null
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  exec postgres -D "$PGDATA"
fi
exec "$@"
