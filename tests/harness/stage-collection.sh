#!/usr/bin/env bash
# Copy the collection's files (tracked, and untracked but not ignored) into
# DEST/ansible_collections/local_ai/llm_gateway, where ansible-test needs it.
source "$(dirname "$0")/lib.sh"
dest=${1:?usage: $0 DEST}/ansible_collections/local_ai/llm_gateway
rm -rf "$dest"; mkdir -p "$dest"
cd "$REPO_ROOT"
git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -x -C "$dest"
echo "$dest"
