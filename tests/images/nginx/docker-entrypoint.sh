#!/bin/sh
# Like the official image's entrypoint, minus the template/envsubst helpers.
set -e
exec "$@"
