#!/bin/sh
# As in the official image: run n8n with the given arguments (default: start).
if [ "$#" -gt 0 ]; then
  exec n8n "$@"
else
  exec n8n
fi
