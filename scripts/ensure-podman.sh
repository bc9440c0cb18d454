#!/usr/bin/env bash
# ensure-podman.sh: a rootful podman that can build and run containers here, or exit 1 saying why.
#
# Idempotent. Installs Debian's podman, runc and debootstrap when one is missing (the base image is made
# locally: no image registry is reachable), then writes the two engine settings these machines need
# into a containers.conf drop-in, unless they are already set:
#   runtime = "runc"        crun refuses cgroups v1 with a cgroup2 mount listing a controller ("hybrid")
#   default_ulimits         podman asks for 1,048,576 open files, more than a process may raise to here
set -euo pipefail

fail() { echo "ensure-podman: $*" >&2; exit 1; }

[ "$(id -u)" = "0" ] || fail "needs root (rootful podman; rootless needs subuid ranges set up by hand)"

missing=()
for pair in podman:podman runc:runc debootstrap:debootstrap; do
  pkg=${pair%%:*}; cmd=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || fail "no apt-get to install ${missing[*]}"
  echo "installing Debian's ${missing[*]}…"
  apt-get update -qq || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
fi

main_conf=/etc/containers/containers.conf
drop_in=/etc/containers/containers.conf.d/50-latchkey.conf
hard_nofile=$(ulimit -Hn)
[ "$hard_nofile" = "unlimited" ] && hard_nofile=1048576
wanted=$(printf '# Written by latchkey scripts/ensure-podman.sh\n[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=32768:32768"]\n\n[engine]\nruntime = "runc"\n' \
  "$hard_nofile" "$hard_nofile")
if [ -f "$main_conf" ] && grep -q '^[[:space:]]*runtime[[:space:]]*=' "$main_conf" \
  && grep -q '^[[:space:]]*default_ulimits[[:space:]]*=' "$main_conf"; then
  : # set by someone else: left as it is
elif [ "$(cat "$drop_in" 2>/dev/null)" != "$wanted" ]; then
  mkdir -p "$(dirname "$drop_in")"
  printf '%s\n' "$wanted" >"$drop_in"
  echo "wrote $drop_in"
fi

podman info >/dev/null 2>&1 || fail "podman is installed but 'podman info' fails: $(podman info 2>&1 | tail -n 3)"
