#!/usr/bin/env bash
# Builds the web UI (web/) into the service's static files (src/Ut360.Api/wwwroot).
#   --if-stale   only when wwwroot is missing or older than a web source (what ./ut360 serve uses)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/web"
OUT="$ROOT/src/Ut360.Api/wwwroot"

if [[ "${1:-}" == --if-stale && -f "$OUT/index.html" ]] \
   && [[ -z "$(find "$WEB/src" "$WEB/index.html" "$WEB/package.json" "$WEB/package-lock.json" "$WEB/vite.config.ts" \
          -newer "$OUT/index.html" -print -quit 2>/dev/null)" ]]; then
  exit 0
fi
command -v npm >/dev/null || { echo "build-web: npm is not installed (Node 20 or later is needed for the web UI)" >&2; exit 1; }
cd "$WEB"
# npm ci when node_modules is missing or older than the lock file.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npx tsc -p .
npx vite build --logLevel warn
echo "build-web: web UI built into src/Ut360.Api/wwwroot" >&2
