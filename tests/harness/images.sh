#!/usr/bin/env bash
# Build the local test images, each derived from a Debian base image (bookworm,
# or the suite named in the context's BASE file, e.g. sid for nginx 1.30) and
# rebuilt only when its build context (or the base) changes. They mimic the
# official images' users, paths, entrypoints and tools (see tests/images/*/).
#   build [NAME...]  : build all (or the named) images
#   list             : print NAME IMAGE lines
source "$(dirname "$0")/lib.sh"
base=${BASE_IMAGE:-llm-gateway-test/base:bookworm}

# name -> build context
declare -A contexts=(
  [ollama-standin]="$REPO_ROOT/tests/ollama_standin"
)
for d in "$REPO_ROOT"/tests/images/*/; do
  [ -f "$d/Dockerfile" ] && contexts[$(basename "$d")]=${d%/}
done

build_one() {
  local name=$1 ctx=${contexts[$1]} image recipe have from=$base
  [ ! -f "$ctx/BASE" ] || from="llm-gateway-test/base:$(cat "$ctx/BASE")"
  image="llm-gateway-test/$name:latest"
  recipe=$( { docker image inspect -f '{{.Id}}' "$from"; (cd "$ctx" && find . -type f ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum); } | sha256sum | cut -c1-16)
  have=$(docker image inspect -f '{{ index .Config.Labels "llm_gateway.recipe" }}' "$image" 2>/dev/null || true)
  if [ "$have" = "$recipe" ]; then log "image $image is current"; return 0; fi
  log "building $image"
  docker build -q --build-arg "BASE_IMAGE=$from" --label "llm_gateway.recipe=$recipe" -t "$image" "$ctx" >/dev/null 2>"$LLM_GATEWAY_RUN/build-$name.log" \
    || { tail -30 "$LLM_GATEWAY_RUN/build-$name.log" >&2; die "building $image failed"; }
}

case "${1:-build}" in
  build)
    shift || true
    names=("$@"); [ ${#names[@]} -gt 0 ] || names=("${!contexts[@]}")
    for n in "${names[@]}"; do [ -n "${contexts[$n]:-}" ] || die "no image named $n"; build_one "$n"; done
    ;;
  list) for n in "${!contexts[@]}"; do echo "$n llm-gateway-test/$n:latest"; done ;;
  *) die "usage: $0 build [NAME...] | list" ;;
esac
