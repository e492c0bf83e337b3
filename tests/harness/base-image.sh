#!/usr/bin/env bash
# Build the local Debian bookworm base image every test image derives from:
# debootstrap + docker import, with python3 (and requests, which community.docker's
# modules need on the Docker host) and the build host's CA bundle
# trusted (pip/npm in containers go through a TLS-intercepting proxy here).
# Rebuilt only when this recipe changes (the recipe hash is an image label).
source "$(dirname "$0")/lib.sh"
image=${BASE_IMAGE:-llm-gateway-test/base:bookworm}
packages=python3,python3-apt,python3-requests,ca-certificates,procps,iproute2,curl,iputils-ping
ca=/etc/ssl/certs/ca-certificates.crt
recipe=$( { cat "$0"; echo "$packages"; sha256sum "$ca"; } | sha256sum | cut -c1-16)

have=$(docker image inspect -f '{{ index .Config.Labels "llm_gateway.recipe" }}' "$image" 2>/dev/null || true)
if [ "$have" = "$recipe" ]; then log "base image $image is current"; exit 0; fi

apt_install debootstrap
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
: "${mirror:=http://deb.debian.org/debian}"
root=$(mktemp -d "$LLM_GATEWAY_CACHE/rootfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
log "debootstrap bookworm from $mirror (about a minute)"
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >"$LLM_GATEWAY_CACHE/debootstrap.log" 2>&1 \
  || { tail -20 "$LLM_GATEWAY_CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
# Trust the build host's CA bundle (the TLS-intercepting proxy's CA is in it).
install -m 0644 "$ca" "$root/usr/local/share/ca-certificates/build-host-bundle.crt"
cat "$ca" >"$root/etc/ssl/certs/ca-certificates.crt"
cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV LANG=C.UTF-8' \
  -c 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  -c 'CMD ["/bin/bash"]' \
  -c "LABEL llm_gateway.recipe=$recipe" - "$image" >/dev/null
log "built $image ($recipe)"
