#!/usr/bin/env bash
# ensure-container-base.sh [IMAGE]: a local Debian base image with python3 and python3-venv inside, for
# building the Containerfile where no image registry is reachable (--build-arg BASE=IMAGE).
#
# Made once with debootstrap from Debian's packages and imported into podman; kept between runs (a
# second call only checks `podman image exists`). Needs scripts/ensure-podman.sh to have passed.
# DEBOOTSTRAP_MIRROR picks another Debian mirror than debootstrap's default.
set -euo pipefail

image=${1:-localhost/latchkey-base:bookworm}
suite=bookworm
packages=python3,python3-venv

if podman image exists "$image"; then exit 0; fi

rootfs=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-base.XXXXXX")
trap 'rm -rf "$rootfs"' EXIT
echo "making the base image $image with debootstrap ($suite, $packages)…"
if ! debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" ${DEBOOTSTRAP_MIRROR:+"$DEBOOTSTRAP_MIRROR"} \
  >"$rootfs.log" 2>&1; then
  tail -n 20 "$rootfs.log" >&2
  rm -f "$rootfs.log"
  echo "ensure-container-base: debootstrap failed" >&2
  exit 1
fi
rm -f "$rootfs.log"
# A smaller image: apt's downloaded packages and lists are not needed inside.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | podman import -q --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "imported $image"
