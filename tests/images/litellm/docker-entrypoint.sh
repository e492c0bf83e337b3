#!/bin/sh
# Like the official image's entrypoint: no argument, or a first argument that
# is an option, runs the proxy with those arguments; anything else is run as is.
set -e
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  exec litellm "$@"
fi
exec "$@"
