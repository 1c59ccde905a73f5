#!/usr/bin/env bash
# ./ut360 test: install and start what the tests need, then run every test. CI runs this.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export UT360_ROOT="$ROOT" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# The tests isolate themselves (a database and a key namespace of their own per test), so they
# may run against servers another checkout started.
export UT360_SHARE_SERVERS=1
source "$ROOT/scripts/services.sh"

passed=0 failed=0 skipped=0
count() {
  # Adds the counts of a runner's summary lines ("Passed: 12") to the totals.
  local p f s
  p=$(awk '/Passed: +[0-9]+/ {n += $2} END {print n + 0}' <<<"$1")
  f=$(awk '/Failed: +[0-9]+/ {n += $2} END {print n + 0}' <<<"$1")
  s=$(awk '/Skipped: +[0-9]+/ {n += $2} END {print n + 0}' <<<"$1")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

echo "== services"
services_ensure
if [[ -z "${ConnectionStrings__Redis:-}" && -z "${UT360_TEST_REDIS_CLUSTER:-}" ]]; then
  cluster_up
  export UT360_TEST_REDIS_CLUSTER
  UT360_TEST_REDIS_CLUSTER="$(printf '127.0.0.1:%s,' "${CLUSTER_PORTS[@]}")"
  UT360_TEST_REDIS_CLUSTER="${UT360_TEST_REDIS_CLUSTER%,}"
fi

status=0
echo "== dotnet tests"
log="$(mktemp)"
set +e
dotnet test "$ROOT/Ut360.slnx" -c Release -nologo --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" \
  | grep -vE '^\s+Passed '
rc=${PIPESTATUS[0]}   # dotnet's own status (pipefail would report grep's or tee's otherwise)
set -e
count "$(grep -E '^ +(Passed|Failed|Skipped): +[0-9]+ *$' "$log" || true)"
rm -f "$log"
[[ $rc == 0 ]] || status=1

if [[ -f "$ROOT/web/package.json" && -x "$ROOT/scripts/test-web.sh" ]]; then
  echo "== web tests"
  set +e
  "$ROOT/scripts/test-web.sh"
  rc=$?
  set -e
  if [[ -f "$ROOT/web/test-results/summary.txt" ]]; then
    read -r wp wf < "$ROOT/web/test-results/summary.txt"
    passed=$((passed + wp)); failed=$((failed + wf))
  fi
  [[ $rc == 0 ]] || status=1
fi

echo
if [[ $skipped -gt 0 ]]; then
  echo "tests: $passed passed, $failed failed, $skipped skipped"
else
  echo "tests: $passed passed, $failed failed"
fi
[[ $failed == 0 ]] || status=1
exit $status
