#!/bin/sh
# Like the official image's entrypoint: "-…" or "….conf" as the first argument
# runs redis-server with it; as root, files in /data not owned by redis are
# handed to it and redis-server runs as redis (umask 0077).
set -e
case "${1:-}" in
  -*|*.conf) set -- redis-server "$@" ;;
esac
if [ "${1:-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
um="$(umask)"
[ "$um" = 0022 ] && umask 0077
exec "$@"
