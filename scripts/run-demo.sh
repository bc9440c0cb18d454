#!/usr/bin/env bash
# Start the example host page on a second origin, then Latchkey in the foreground.
set -euo pipefail
BIN=$1 HOST=$2 PORT=$3 EXAMPLE_PORT=$4
export LATCHKEY_BASE_URL="${LATCHKEY_BASE_URL:-http://$HOST:$PORT}"
if [ -f examples/plain-html/serve.py ]; then
  "$BIN/python" examples/plain-html/serve.py --port "$EXAMPLE_PORT" --latchkey "$LATCHKEY_BASE_URL" &
  EXAMPLE_PID=$!
  trap 'kill $EXAMPLE_PID 2>/dev/null || true' EXIT INT TERM
fi
cat <<MSG

  Latchkey is starting on $LATCHKEY_BASE_URL
    picker (sandbox demo): $LATCHKEY_BASE_URL/picker?workspace=ws_demo&env=sandbox&external_xref=demo-user&mode=redirect
    REST API:              $LATCHKEY_BASE_URL/api/v1/openapi.json   (sandbox key in var/demo-keys.json)
    example host page:     http://localhost:$EXAMPLE_PORT/   (a second origin, embedding the widget)
    more examples:         examples/README.md   (React, Vue, a redirect-mode host app, the custom flow)

MSG
"$BIN/latchkey" serve --host "$HOST" --port "$PORT"
