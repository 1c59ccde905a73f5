#!/usr/bin/env bash
# What readers see across killed loads and syncs (issue 16). N trials between two generated
# versions (--seed 1 and --seed 2); each trial:
#   1. `ut360 load` of the other version, killed with SIGKILL at a random moment, then retried
#      at once (the retry must not be refused: the dead load's rollback is waited for);
#   2. `ut360 sync`, killed with SIGKILL at a random moment while it writes; then NO command:
#      the API's watchdog must notice and converge Redis by itself;
#   while readers poll Redis (meta totals against the index sizes in one MULTI; index members
#   that have no record) and the API (UC3 page items that UC1 answers 404).
# Per trial: mixed reads seen, stale keys after convergence (rec/profile keys of ISDNs that
# PostgreSQL does not have, and PostgreSQL rows that Redis lacks), time from the kill to
# convergence. Everything runs against a database and a redis-server of the bench's own.
#
#   bench/consistency.sh [trials] [subscribers]      (default 3 trials of 50,000)
# Writes bench/results/consistency.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export UT360_ROOT="$ROOT" UT360_SHARE_SERVERS=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 NO_COLOR=1
source "$ROOT/scripts/services.sh"
TRIALS="${1:-3}"
N="${2:-50000}"
DB="${UT360_BENCH_DB:-ut360_bench_consistency}"
OUT="$ROOT/bench/results/consistency.md"
WORK="$(mktemp -d)"
DATA="$ROOT/bench/out/consistency-$N"
PORT="" API_PID="" READER_PID=""
KEY="bench-consistency-key-0001"
API_PORT=18093
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

cleanup() {
  [[ -n "$READER_PID" ]] && kill "$READER_PID" 2>/dev/null || true
  [[ -n "$API_PID" ]] && kill "$API_PID" 2>/dev/null || true
  [[ -n "$PORT" ]] && redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

services_ensure_pg
pg() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q "$@"; }
for p in $(seq 56490 56499); do
  if ! (echo > "/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[[ -n "$PORT" ]] || die "no free port in 56490-56499"
mkdir -p "$WORK/redis"
redis_conf "$PORT" "$WORK/redis" "" >"$WORK/redis/redis.conf"
redis-server "$WORK/redis/redis.conf"
for _ in $(seq 1 100); do redis_running "$PORT" && break; sleep 0.05; done
R=(redis-cli -p "$PORT")

echo "== building the CLI and the API"
dotnet build "$ROOT/src/Ut360.Cli/Ut360.Cli.csproj" -c Release -o "$WORK/cli" -nologo -v q -clp:ErrorsOnly >/dev/null
dotnet build "$ROOT/src/Ut360.Api/Ut360.Api.csproj" -c Release -o "$WORK/api" -nologo -v q -clp:ErrorsOnly >/dev/null
export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$DB"
export ConnectionStrings__Redis="127.0.0.1:$PORT"
export Ut360__IsdnKey="5554333630446576656c6f704b657921"   # generated demo data: the repository's demo key
cli() { dotnet "$WORK/cli/Ut360.Cli.dll" "$@"; }

[[ "$(pg -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" == 1 ]] || pg -d postgres -c "CREATE DATABASE $DB"
cli db migrate >/dev/null
for seed in 1 2; do
  [[ -f "$DATA/v$seed/recommendations.parquet" ]] || cli generate --subscribers "$N" --seed "$seed" --out "$DATA/v$seed" >/dev/null
done
# The two versions come from different seeds: each load replaces nearly every subscriber, which
# the loader's delete guard (5 % by default) refuses unless told.
echo "== loading v1 and syncing"
cli load "$DATA/v1" --data-version "v1" --max-delete-percent 100 >/dev/null
cli sync >/dev/null

echo "== the API (watchdog every 2 s) on :$API_PORT"
(cd "$WORK/api" && exec dotnet Ut360.Api.dll --urls "http://127.0.0.1:$API_PORT" --contentRoot "$WORK/api" \
  --Sync:WatchSeconds 2 --Auth:Keys:bench:Key "$KEY" --Auth:Keys:bench:Roles:0 lookup --Auth:Keys:bench:Roles:1 analyst \
  >"$WORK/api.log" 2>&1) &
API_PID=$!
for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$API_PORT/health/live" >/dev/null 2>&1 && break; sleep 0.1; done
# Without the API there is no watchdog and no API reader: every figure would be meaningless.
curl -fs "http://127.0.0.1:$API_PORT/health/live" >/dev/null 2>&1 || { cat "$WORK/api.log"; die "the API did not start"; }

# Readers: one poll every ~20 ms, counting reads that are neither version.
reader() {
  local polls=0 mixed_meta=0 orphans=0 api404=0
  trap 'echo "$polls $mixed_meta $orphans $api404" >"$WORK/reader.out"; exit 0' TERM
  while true; do
    polls=$((polls + 1))
    # Meta totals and index sizes in one MULTI: equal in every published version.
    mapfile -t v < <(printf 'MULTI\nHGET ut360:meta:stats total_subscribers\nZCARD ut360:idx:service:EasyCredit\nZCARD ut360:idx:service:MBFG\nZCARD ut360:idx:service:ungsanluong\nEXEC\n' \
      | "${R[@]}" 2>/dev/null | tail -n 4)
    if [[ ${#v[@]} == 4 && -n "${v[0]}" ]] && (( v[0] != v[1] + v[2] + v[3] )); then mixed_meta=$((mixed_meta + 1)); fi
    # Index members whose record is gone.
    for m in $("${R[@]}" srandmember ut360:idx:risk:LOW 5 2>/dev/null); do
      [[ "$("${R[@]}" exists "ut360:rec:$m")" == 1 ]] || orphans=$((orphans + 1))
    done
    # A UC3 page's items answer UC1.
    if (( polls % 5 == 0 )); then
      for m in $(curl -fs -H "X-Api-Key: $KEY" "http://127.0.0.1:$API_PORT/api/v1/risk/LOW/subscribers?limit=3" | jq -r '.items[].isdn' 2>/dev/null); do
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $KEY" "http://127.0.0.1:$API_PORT/api/v1/recommendations/$(jq -rn --arg s "$m" '$s|@uri')")
        [[ "$code" == 404 ]] && api404=$((api404 + 1))
      done
    fi
    sleep 0.02
  done
}

# Keys that are not what PostgreSQL has, after convergence: rec/profile of ISDNs PostgreSQL lacks
# plus PostgreSQL subscribers Redis lacks.
stale() {
  pg -d "$DB" -Atc "SELECT isdn FROM recommendations" | sort >"$WORK/pg.txt"
  "${R[@]}" --scan --pattern 'ut360:rec:*' | sed 's/^ut360:rec://' | sort >"$WORK/rec.txt"
  "${R[@]}" --scan --pattern 'ut360:profile:*' | sed 's/^ut360:profile://' | sort >"$WORK/profile.txt"
  local extra_rec extra_profile missing
  extra_rec=$(comm -13 "$WORK/pg.txt" "$WORK/rec.txt" | wc -l)
  extra_profile=$(comm -13 "$WORK/pg.txt" "$WORK/profile.txt" | wc -l)
  missing=$(comm -23 "$WORK/pg.txt" "$WORK/rec.txt" | wc -l)
  echo $((extra_rec + extra_profile + missing))
}

version_of_pg() { pg -d "$DB" -Atc "SELECT data_version FROM data_loads WHERE outcome = 'succeeded' ORDER BY id DESC LIMIT 1"; }
ms() { date +%s%3N; }

rows=()
for t in $(seq 1 "$TRIALS"); do
  target=$(( t % 2 == 1 ? 2 : 1 ))
  reader & READER_PID=$!

  # 1. A load killed, then retried at once.
  # dotnet itself in the background (not a shell function), so $! is the process SIGKILL must reach.
  dotnet "$WORK/cli/Ut360.Cli.dll" load "$DATA/v$target" --data-version "v$target" --max-delete-percent 100 >"$WORK/load.log" 2>&1 & lp=$!
  sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.1f", 2 + rand() * 6 }')"
  load_state=$(kill -0 "$lp" 2>/dev/null && echo killed || echo "had finished")
  kill -9 "$lp" 2>/dev/null || true; wait "$lp" 2>/dev/null || true
  retry_start=$(ms)
  if cli load "$DATA/v$target" --data-version "v$target" --max-delete-percent 100 >"$WORK/retry.log" 2>&1; then retry="ok"; else retry="failed: $( (grep -m1 -iE 'another|rolling|error' "$WORK/retry.log" || tail -n 1 "$WORK/retry.log") | tr '|' '/' | cut -c1-100)"; cp "$WORK/retry.log" "$ROOT/bench/out/consistency-retry-$t.log"; fi
  retry_s=$(awk -v a="$retry_start" -v b="$(ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
  rollback=$(grep -o 'previous load rolling back [0-9.]* s' "$WORK/retry.log" || echo "-")

  # 2. A sync killed while it writes (the writing mark is set), then no command at all.
  dotnet "$WORK/cli/Ut360.Cli.dll" sync >"$WORK/sync.log" 2>&1 & sp=$!
  for _ in $(seq 1 600); do [[ "$("${R[@]}" exists ut360:sync:writing)" == 1 ]] && break; sleep 0.01; done
  sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", rand() * 3 }')"
  sync_state=$(kill -0 "$sp" 2>/dev/null && echo killed || echo "had finished")
  kill -9 "$sp" 2>/dev/null || true; wait "$sp" 2>/dev/null || true
  killed=$(ms)
  want="$(version_of_pg)"
  converged="-"
  for _ in $(seq 1 1200); do
    if [[ "$("${R[@]}" hget ut360:meta:stats data_version)" == "$want" && "$("${R[@]}" exists ut360:sync:writing)" == 0 \
          && "$(pg -d "$DB" -Atc "SELECT count(*) FROM sync_runs WHERE outcome = 'running'")" == 0 ]]; then
      converged=$(awk -v a="$killed" -v b="$(ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'); break
    fi
    sleep 0.1
  done
  kill -TERM "$READER_PID"; wait "$READER_PID" 2>/dev/null || true; READER_PID=""
  read -r polls mixed_meta orphans api404 <"$WORK/reader.out"
  stale_keys=$(stale)
  mixed=$([[ $((mixed_meta + orphans + api404)) == 0 ]] && echo no || echo "YES (meta $mixed_meta, orphans $orphans, api 404 $api404)")
  row="| $t | v$target | load $load_state; retry $retry (${retry_s} s; $rollback) | sync $sync_state | $polls | $mixed | $stale_keys | ${converged} s |"
  echo "$row"
  rows+=("$row")
done

{
  echo "# Consistency under kill -9 ($(date -u +%Y-%m-%d), $N subscribers, $TRIALS trials)"
  echo
  echo "\`bench/consistency.sh $TRIALS $N\` on $(nproc) cores, own database and own redis-server (standalone)."
  echo "Each trial: a load of the other version killed with SIGKILL at a random moment (2-8 s) and retried"
  echo "at once; then a sync killed at a random moment (0-3 s after its writing mark) and no command: the"
  echo "API's watchdog (Sync:WatchSeconds 2) must converge Redis. Readers poll every ~20 ms: meta totals"
  echo "against the service index sizes in one MULTI, index members without a record, UC3 page items that"
  echo "UC1 answers 404. Stale keys: rec/profile keys of ISDNs PostgreSQL lacks plus PostgreSQL subscribers"
  echo "Redis lacks, after convergence. Converged: from the sync's kill until the meta has PostgreSQL's"
  echo "data_version, no writing mark and no running sync row."
  echo "Load average (1, 5, 15 min) of the shared machine: $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
  echo
  echo "| trial | version | load, then its retry | sync | reader polls | mixed reads | stale keys | converged |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$OUT"
echo "== wrote $OUT"
