#!/usr/bin/env bash
# ./ut360 serve: the HTTP API and web UI on http://127.0.0.1:8080 (override with --urls).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out="$ROOT/.build/api"
# The web UI: rebuilt when its sources changed; without npm the API still runs.
"$ROOT/scripts/build-web.sh" --if-stale || echo "ut360 serve: the web UI was not built (above); serving the API only." >&2
log="$(mktemp)"
if ! dotnet build "$ROOT/src/Ut360.Api/Ut360.Api.csproj" -c Release -o "$out" -nologo -v q -clp:ErrorsOnly >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"; echo "ut360 serve: the build failed (above)." >&2; exit 1
fi
rm -f "$log"
urls="http://127.0.0.1:8080"
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --urls) urls="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
# The API takes no server by default: without ConnectionStrings__* in the environment, name
# the local ones that this checkout's `./ut360 services up` started (its ports: UT360_PG_PORT,
# UT360_REDIS_PORT, exported by ./ut360), and say so.
pg_port="${UT360_PG_PORT:-55432}" redis_port="${UT360_REDIS_PORT:-56379}"
if [[ -z "${ConnectionStrings__Postgres:-}" ]]; then
  export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=ut360;Include Error Detail=true"
  echo "ut360 serve: PostgreSQL: the local server (127.0.0.1:$pg_port, database ut360); set ConnectionStrings__Postgres for another" >&2
fi
if [[ -z "${ConnectionStrings__Redis:-}" ]]; then
  export ConnectionStrings__Redis="127.0.0.1:$redis_port"
  echo "ut360 serve: Redis: the local server (127.0.0.1:$redis_port); set ConnectionStrings__Redis for another" >&2
fi
# Ut360__IsdnKey is not defaulted: in Production the API refuses to start without it
# (`./ut360 up` passes the demo key for its demo data).
cd "$out"
# The web UI's build lands in src/Ut360.Api/wwwroot; the local demo key (scripts/up.sh) in .local/.
exec dotnet "$out/Ut360.Api.dll" --urls "$urls" --contentRoot "$out" --webroot "$ROOT/src/Ut360.Api/wwwroot" \
  --ApiKeysFile "$ROOT/.local/api-keys.json" "${args[@]}"
