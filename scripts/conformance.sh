#!/bin/sh
# Runs the official MCP conformance suite against a freshly started server (built dist/, a temp data dir, a free
# port) with conformance/baseline.yml as the expected failures. The suite needs Node 22, fetched from npm.
set -eu
cd "$(dirname "$0")/.."
data=$(mktemp -d)
log="$data/server.log"
node dist/src/main.js serve --port 0 --data-dir "$data/data" 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT INT TERM
url=""
for _ in $(seq 1 300); do
  url=$(grep -o 'listening on ws://[^" ]*' "$log" | head -1 | sed 's#listening on ws://\([^/]*\)/.*#http://\1/mcp#') || true
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "server did not start:" >&2; cat "$log" >&2; exit 1; }
echo "conformance suite against $url" >&2
npx -y -p node@22 -p @modelcontextprotocol/conformance@0.1.16 conformance server --url "$url" --expected-failures conformance/baseline.yml
