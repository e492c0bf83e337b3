#!/usr/bin/env bash
# Create (or reuse) the test virtualenv from tests/requirements.txt.
# The venv lives in the cache, keyed by the requirements' hash; prints its path.
source "$(dirname "$0")/lib.sh"
req="$REPO_ROOT/tests/requirements.txt"
venv="$LLM_GATEWAY_CACHE/venv-$(hash_of "$req")"
if [ ! -x "$venv/bin/ansible-playbook" ] || [ ! -f "$venv/.complete" ]; then
  log "creating virtualenv $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q -r "$req" >&2
  touch "$venv/.complete"
fi
ln -sfn "$venv" "$LLM_GATEWAY_CACHE/venv"
echo "$venv"
