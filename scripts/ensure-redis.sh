#!/usr/bin/env bash
# Exit 0 when Redis answers on 127.0.0.1:6379 (starting a local redis-server, installing Debian's
# package first where we can, when none answers). The rate-limit tests' Redis pass needs it.
set -uo pipefail
ready() {
  exec 3<>/dev/tcp/127.0.0.1/6379 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  local reply=""
  read -r -t 2 reply <&3
  exec 3<&- 3>&-
  [[ $reply == +PONG* ]]
}
ready && exit 0
command -v redis-server >/dev/null 2>&1 || "$(dirname "$0")/ensure-apt-package.sh" redis-server >/dev/null 2>&1 || exit 1
ready && exit 0  # the package's own service may have started it
redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes >/dev/null 2>&1 || exit 1
for _ in $(seq 1 20); do ready && exit 0; sleep 0.5; done
exit 1
