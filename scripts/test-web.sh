#!/usr/bin/env bash
# Web UI tests (called by scripts/test.sh): Vitest unit tests, then end-to-end tests driving
# headless Chromium (Debian's, through playwright-core) against the real service on its own
# PostgreSQL database and Redis DB number, loaded with a small generated dataset.
# Writes web/test-results/summary.txt as "PASSED FAILED"; exits non-zero on any failure.
#
# Runs from two checkouts on one machine do not meet: the database, the Redis key namespace and
# the port are the checkout's own.
#   UT360_E2E_PORT         port of the service under test (the first free one from 18080)
#   UT360_E2E_DB           PostgreSQL database, dropped and recreated (ut360_e2e_<checkout tag>)
#   UT360_E2E_REDIS_DB     Redis DB number on the local server (9)
#   UT360_E2E_NAMESPACE    Redis key namespace, its keys cleared first (e2e<checkout tag>:ut360)
#   UT360_E2E_SUBSCRIBERS  size of the generated dataset (5000)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export UT360_ROOT="$ROOT" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# shellcheck source=scripts/services.sh
source "$ROOT/scripts/services.sh"

WEB="$ROOT/web"
OUT="$WEB/test-results"
tag="$(printf '%s' "$ROOT" | sha1sum | cut -c1-8)"
DB="${UT360_E2E_DB:-ut360_e2e_$tag}"
RDB="${UT360_E2E_REDIS_DB:-9}"
NS="${UT360_E2E_NAMESPACE:-e2e$tag:ut360}"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT="${UT360_E2E_PORT:-}"
if [[ -z "$PORT" ]]; then
  for p in $(seq 18080 18119); do port_free "$p" && { PORT=$p; break; }; done
fi
SUBSCRIBERS="${UT360_E2E_SUBSCRIBERS:-5000}"
CHROMIUM="${UT360_CHROMIUM:-/usr/bin/chromium}"

passed=0 failed=0 status=0 api_pid="" data_dir=""
rm -rf "$OUT"
mkdir -p "$OUT"

finish() {
  if [[ -n "$api_pid" ]] && kill -0 "$api_pid" 2>/dev/null; then
    kill "$api_pid" 2>/dev/null || true
    wait "$api_pid" 2>/dev/null || true
  fi
  [[ -n "$data_dir" ]] && rm -rf "$data_dir"
  echo "$passed $failed" >"$OUT/summary.txt"
}
trap finish EXIT

# Adds the counts of a Vitest JSON report; a run that wrote none counts as one failure.
add_counts() {
  local counts
  if [[ -f "$1" ]] && counts="$(node -e 'const r = require(process.argv[1]); console.log(r.numPassedTests, r.numFailedTests)' "$1")"; then
    read -r p f <<<"$counts"
    passed=$((passed + p)); failed=$((failed + f))
  else
    failed=$((failed + 1))
  fi
}

echo "== web: dependencies"
if [[ ! -x "$CHROMIUM" ]]; then
  if is_root && command -v apt-get >/dev/null; then
    echo "installing chromium (apt-get)…"
    (apt_get update -qq && apt_get install -y -qq chromium) >/dev/null \
      || echo "test-web: apt-get install chromium failed" >&2
  fi
fi
if ! (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error); then
  echo "test-web: npm ci failed (above)" >&2
  failed=$((failed + 1)); exit 1
fi

echo "== web: unit tests (Vitest)"
set +e
(cd "$WEB" && npx vitest run --reporter=default --reporter=json --outputFile="$OUT/unit.json")
rc=$?
set -e
add_counts "$OUT/unit.json"
[[ $rc == 0 ]] || status=1

echo "== web: build"
if ! "$ROOT/scripts/build-web.sh"; then
  failed=$((failed + 1)); exit 1
fi

# The end-to-end run needs the service's commands; until they exist in this checkout it is
# reported as skipped, not passed.
missing=()
for cmd in Generate Load Sync; do
  grep -qi 'not built yet' "$ROOT/src/Ut360.Cli/$cmd/${cmd}Command.cs" 2>/dev/null && missing+=("ut360 ${cmd,,}")
done
[[ -d "$ROOT/src/Ut360.Api/Recommendations" ]] || missing+=("the API's endpoints")
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "== web: end-to-end tests SKIPPED: the service is not complete in this checkout (missing: ${missing[*]})"
  exit $status
fi
if [[ ! -x "$CHROMIUM" ]]; then
  echo "test-web: no Chromium at $CHROMIUM (apt-get install chromium, or set UT360_CHROMIUM)" >&2
  failed=$((failed + 1)); exit 1
fi

echo "== web: end-to-end environment (database $DB, Redis DB $RDB namespace $NS, $SUBSCRIBERS subscribers)"
services_ensure
pg() { PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 "$@"; }
pg -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null
pg -c "CREATE DATABASE \"$DB\"" >/dev/null
# Only this checkout's keys (never FLUSHDB on a shared server).
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" -n "$RDB" --scan --pattern "$NS:*" \
  | xargs -r -n 1000 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" -n "$RDB" unlink >/dev/null

export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$DB;Include Error Detail=true"
export ConnectionStrings__Redis="127.0.0.1:$REDIS_PORT,defaultDatabase=$RDB" Redis__Namespace="$NS"
# Generated and served with the repository's demo key, named as Production requires.
export Ut360__IsdnKey="5554333630446576656c6f704b657921"
data_dir="$(mktemp -d)"
prepare() {
  "$ROOT/ut360" db migrate
  "$ROOT/ut360" generate --subscribers "$SUBSCRIBERS" --out "$data_dir"
  "$ROOT/ut360" load "$data_dir"
  "$ROOT/ut360" sync --namespace "$NS"
}
if ! prepare >"$OUT/prepare.log" 2>&1; then
  cat "$OUT/prepare.log" >&2
  echo "test-web: preparing the end-to-end data failed (above)" >&2
  failed=$((failed + 1)); exit 1
fi

key="e2e-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export Auth__Keys__e2e__Key="$key" Auth__Keys__e2e__Roles__0=lookup Auth__Keys__e2e__Roles__1=analyst \
  Auth__Keys__e2e__Roles__2=campaign Auth__Keys__e2e__Roles__3=admin
if [[ -z "$PORT" ]] || ! port_free "$PORT"; then
  echo "test-web: no free port for the service (${PORT:-18080-18119} in use; set UT360_E2E_PORT)" >&2
  failed=$((failed + 1)); exit 1
fi
"$ROOT/scripts/serve.sh" --urls "http://127.0.0.1:$PORT" >"$OUT/api.log" 2>&1 &
api_pid=$!
ready=0
# Ready, and ours: this run's key is known only to the service this run started.
for _ in $(seq 1 600); do
  kill -0 "$api_pid" 2>/dev/null || break
  if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health/ready" 2>/dev/null \
     && curl -fsS -o /dev/null -H "X-Api-Key: $key" "http://127.0.0.1:$PORT/api/v1/stats" 2>/dev/null; then
    ready=1; break
  fi
  sleep 0.5
done
if [[ $ready != 1 ]]; then
  tail -40 "$OUT/api.log" >&2
  echo "test-web: the service did not become ready on port $PORT (log above)" >&2
  failed=$((failed + 1)); exit 1
fi

echo "== web: end-to-end tests (Chromium against http://127.0.0.1:$PORT)"
set +e
(cd "$WEB" && UT360_E2E_URL="http://127.0.0.1:$PORT" UT360_E2E_KEY="$key" UT360_CHROMIUM="$CHROMIUM" \
  UT360_E2E_TIMING_FILE="$OUT/timing.txt" \
  npx vitest run --config vitest.e2e.config.ts --reporter=default --reporter=json --outputFile="$OUT/e2e.json")
rc=$?
set -e
add_counts "$OUT/e2e.json"
[[ $rc == 0 ]] || status=1
[[ -f "$OUT/timing.txt" ]] && echo "e2e timing: $(cat "$OUT/timing.txt")"
echo "web tests: $passed passed, $failed failed"
exit $status
