#!/usr/bin/env bash
# Create (or reuse) the test virtualenv from tests/requirements.txt.
# The venv lives in the cache, keyed by the requirements' hash; prints its path.
# tests/requirements-docs.txt is installed into it, again whenever that file
# changes (a marker keyed by its hash), without building a new virtualenv.
source "$(dirname "$0")/lib.sh"
req="$REPO_ROOT/tests/requirements.txt"
docs_req="$REPO_ROOT/tests/requirements-docs.txt"
venv="$LLM_GATEWAY_CACHE/venv-$(hash_of "$req")"
if [ ! -x "$venv/bin/ansible-playbook" ] || [ ! -f "$venv/.complete" ]; then
  log "creating virtualenv $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q -r "$req" >&2
  touch "$venv/.complete"
fi
docs_marker="$venv/.docs-$(hash_of "$docs_req")"
if [ ! -f "$docs_marker" ]; then
  log "installing $(basename "$docs_req") into $venv"
  "$venv/bin/pip" install -q -r "$docs_req" >&2
  rm -f "$venv"/.docs-*
  touch "$docs_marker"
fi
ln -sfn "$venv" "$LLM_GATEWAY_CACHE/venv"
echo "$venv"
