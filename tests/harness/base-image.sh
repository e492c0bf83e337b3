#!/usr/bin/env bash
# Build a local Debian base image (bookworm by default; "base-image.sh sid" for the
# suite that carries nginx 1.30, the minor version production pins) that test images derive from:
# debootstrap + docker import, with python3 (and requests, which community.docker's
# modules need on the Docker host) and the build host's CA bundle
# trusted (pip/npm in containers go through a TLS-intercepting proxy here).
# Rebuilt only when this recipe changes (the recipe hash is an image label).
source "$(dirname "$0")/lib.sh"
suite=${1:-bookworm}
image=llm-gateway-test/base:$suite
[ "$suite" != bookworm ] || image=${BASE_IMAGE:-$image}
packages=python3,python3-apt,python3-requests,ca-certificates,procps,iproute2,curl,iputils-ping
ca=/etc/ssl/certs/ca-certificates.crt
recipe=$( { cat "$0"; echo "$suite $packages"; sha256sum "$ca"; } | sha256sum | cut -c1-16)

have=$(docker image inspect -f '{{ index .Config.Labels "llm_gateway.recipe" }}' "$image" 2>/dev/null || true)
if [ "$have" = "$recipe" ]; then log "base image $image is current"; exit 0; fi

apt_install debootstrap
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
: "${mirror:=http://deb.debian.org/debian}"
root=$(mktemp -d "$LLM_GATEWAY_CACHE/rootfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
log "debootstrap $suite from $mirror (about a minute)"
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$LLM_GATEWAY_CACHE/debootstrap-$suite.log" 2>&1 \
  || { tail -20 "$LLM_GATEWAY_CACHE/debootstrap-$suite.log" >&2; die "debootstrap $suite failed"; }
# Trust the build host's CA bundle (the TLS-intercepting proxy's CA is in it).
install -m 0644 "$ca" "$root/usr/local/share/ca-certificates/build-host-bundle.crt"
cat "$ca" >"$root/etc/ssl/certs/ca-certificates.crt"
if [ "$suite" = bookworm ]; then
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
else
  # debootstrap's sources.list names the mirror and suite. sid's Release file is
  # valid for a week only, and the mirror here may serve an older copy of it.
  echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99llm-gateway-valid-until"
fi
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV LANG=C.UTF-8' \
  -c 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  -c 'CMD ["/bin/bash"]' \
  -c "LABEL llm_gateway.recipe=$recipe" - "$image" >/dev/null
log "built $image ($recipe)"
