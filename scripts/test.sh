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

# The layout, sync and cache-aside tests again on the other engine (Valkey when the default
# server is Redis, Redis when it is Valkey): a server of its own on a free port, same
# configuration, stopped afterwards. Skipped with a note when that engine is not available.
OTHER_TESTS="FullyQualifiedName~Ut360.Tests.Sync.SyncLayoutTests|FullyQualifiedName~Ut360.Tests.Sync.SyncRefreshTests|FullyQualifiedName~Ut360.Tests.Sync.SyncEncodingTests|FullyQualifiedName~Ut360.Tests.Api.CacheFillTests"
if [[ -z "${ConnectionStrings__Redis:-}" && "${UT360_TEST_OTHER_ENGINE:-1}" == 1 ]]; then
  if [[ "$(engine_of "$REDIS_PORT")" == valkey ]]; then other=redis; else other=valkey; fi
  if other_bin="$(engine_server "$other")" && [[ -n "$other_bin" ]]; then
    other_port=""
    for p in $(seq 56480 56499); do
      if ! (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then other_port=$p; break; fi
    done
    other_dir="$(mktemp -d)"
    redis_conf "$other_port" "$other_dir" "" >"$other_dir/redis.conf"
    "$other_bin" "$other_dir/redis.conf"
    for _ in $(seq 1 100); do redis_running "$other_port" && break; sleep 0.05; done
    echo "== dotnet tests on $other ($("$other_bin" --version | grep -o 'v=[0-9.]*' | cut -d= -f2), 127.0.0.1:$other_port): layout, sync, cache-aside"
    log2="$(mktemp)"
    set +e
    ConnectionStrings__Redis="127.0.0.1:$other_port" UT360_TEST_REDIS_CLUSTER="" dotnet test "$ROOT/tests/Ut360.Tests" -c Release -nologo \
      --filter "$OTHER_TESTS" --logger "console;verbosity=normal" 2>&1 | tee "$log2" | grep -vE '^\s+Passed '
    rc=${PIPESTATUS[0]}
    set -e
    count "$(grep -E '^ +(Passed|Failed|Skipped): +[0-9]+ *$' "$log2" || true)"
    rm -f "$log2"
    "$CLI_BIN" -p "$other_port" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$other_dir"
    [[ $rc == 0 ]] || status=1
  else
    echo "== $other is not available here: the layout, sync and cache-aside tests ran on $(engine_of "$REDIS_PORT") only"
  fi
fi

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
