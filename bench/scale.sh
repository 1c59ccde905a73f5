#!/usr/bin/env bash
# bench/scale.sh: the system at several dataset sizes, each in a database and a Redis namespace of
# its own, on a Valkey/Redis server (or a 3-master cluster) that the bench starts and stops itself.
# For each size: wall time and peak RSS (GNU time -v) of `generate`, `load`, `sync` into the empty
# namespace and `sync` again over that version (as in service); the
# PostgreSQL database size; Redis used_memory and bytes per subscriber; the longest Redis stall
# during the two syncs (LATENCY LATEST with latency-monitor-threshold 1 ms, and a client sampling
# PING with redis-cli --latency every second); the RENAME of a copy of the largest index set over
# it (what the sync's publish does), timed by SLOWLOG; then the API (Release) on the same data:
# UC1 and UC5 p50/p99 at a fixed rate (near cache on, several rounds; and off, one round), UC2 pages
# deep into the largest service index, UC6 bulk of 10,000 ISDNs and the UC3 export of the whole
# LOW set (bench/api/bulk.py). The first size is the baseline of the targets (bench/results/scale.md):
#   every time ≤ 1.1 × linear; peak RSS of every CLI command ≤ 1.1 × the first size's;
#   API latencies ≤ 1.2 × the first size's; the LOW export ≤ 10 s; no Redis stall > 50 ms.
# Generated files, databases and builds are deleted as each size (or the run) ends. Prints the report and writes it
# to bench/out/scale-<time>/report.md (the figures of each size in sizes.tsv beside it).
# Refused before anything starts (exit 2 or 1): a size below 20,000 + (2 + SCALE_RUNS) × 20,000
# (the UC6 lists need that many distinct ISDNs), a Redis port in use, or a database
# ut360_scale_SIZE that exists; on any exit it stops only the servers it started and drops only the
# databases it made.
#
#   bench/scale.sh 214504 643512 2145040
#   SCALE_CLUSTER=1 bench/scale.sh 643512        # a 3-master cluster of the bench's own
#   SCALE_REDIS_PORT=56411 SCALE_CLUSTER_PORTS="47111 47112 47113" SCALE_MAXMEMORY=12gb
#   SCALE_RATE=2000 SCALE_CONNS=8 SCALE_SECONDS=10 SCALE_ROUNDS=3 SCALE_RUNS=3   # the defaults
#   SCALE_REDIS_PRIORITY=1   # the default: Redis's threads at real-time priority (see below)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export UT360_ROOT="$ROOT" UT360_SHARE_SERVERS=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
source "$ROOT/scripts/services.sh"
usage="usage: bench/scale.sh SIZE... (subscribers, e.g. 214504 643512 2145040; the header of this file lists the SCALE_* settings)"
(($# > 0)) || { echo "$usage" >&2; exit 2; }
[[ "$1" == -h || "$1" == --help ]] && { echo "$usage"; exit 0; }
SIZES=("$@")
CLUSTER="${SCALE_CLUSTER:-0}"
RATE="${SCALE_RATE:-2000}"; CONNS="${SCALE_CONNS:-8}"; SECS="${SCALE_SECONDS:-10}"; ROUNDS="${SCALE_ROUNDS:-3}"; RUNS="${SCALE_RUNS:-3}"
# bench/api/bulk.py asks 20,000 warm ISDNs, then (2 warm-up + RUNS) lists of 10,000 never asked
# before for each of its two cold cases: a size below that cannot give its UC6 figures.
MIN_SIZE=$((20000 + (2 + RUNS) * 2 * 10000))
for n in "${SIZES[@]}"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "bench/scale.sh: not a subscriber count: '$n'" >&2; exit 2; }
  ((n >= MIN_SIZE)) || { echo "bench/scale.sh: $n subscribers is too few: the UC6 figures need at least $MIN_SIZE with SCALE_RUNS=$RUNS" >&2; exit 2; }
done
MAXMEM="${SCALE_MAXMEMORY:-12gb}"
OUT="$ROOT/bench/out/scale-$(date -u +%Y%m%dT%H%M%SZ)"; mkdir -p "$OUT"
export Ut360__IsdnKey="${Ut360__IsdnKey:-5554333630446576656c6f704b657921}"   # the demo data's key, named as Production requires
say() { echo "scale: $*" >&2; }
now() { date +%s.%N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pg() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -qAt "$@"; }

# --- Redis of the bench's own --------------------------------------------------------------------
ensure_redis_installed
services_ensure_pg
PORTS=()
if [[ "$CLUSTER" == 1 ]]; then
  read -r -a PORTS <<<"${SCALE_CLUSTER_PORTS:-47111 47112 47113}"
else
  PORTS=("${SCALE_REDIS_PORT:-$(for p in $(seq 56410 56499); do (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; break; }; done)}")
fi
# Refused before anything starts: a port in use belongs to someone else, and the cleanup below
# stops only the servers and drops only the databases this run made.
for p in "${PORTS[@]}"; do
  (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null && { say "port $p is taken: choose SCALE_REDIS_PORT / SCALE_CLUSTER_PORTS"; rmdir "$OUT" 2>/dev/null; exit 1; }
done
for n in "${SIZES[@]}"; do
  [[ -z "$(pg -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'ut360_scale_$n'")" ]] \
    || { say "database ut360_scale_$n exists (another run, or one kept): drop it first"; rmdir "$OUT" 2>/dev/null; exit 1; }
done
api_pid="" STARTED=() MADE_DBS=()
cleanup() {
  [[ -n "$api_pid" ]] && kill "$api_pid" 2>/dev/null || true
  local p pid
  for p in "${STARTED[@]}"; do
    pid="$(cat "$OUT/redis/$p/redis.pid" 2>/dev/null || true)"
    timeout 10 "$CLI_BIN" -p "$p" shutdown nosave >/dev/null 2>&1 || true
    # A server still starting does not answer yet: stop it by its pid file.
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
  done
  rm -rf "$OUT/gen" "$OUT/redis" "$OUT/cli" "$OUT/api"
  for db in "${MADE_DBS[@]}"; do pg -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" 2>/dev/null || true; done
}
trap cleanup EXIT
for p in "${PORTS[@]}"; do
  mkdir -p "$OUT/redis/$p"
  STARTED+=("$p")
  extra="maxmemory $MAXMEM"$'\n'"latency-monitor-threshold 1"
  [[ "$CLUSTER" == 1 ]] && extra+=$'\n'"cluster-enabled yes"$'\n'"cluster-config-file $OUT/redis/$p/nodes.conf"$'\n'"cluster-node-timeout 5000"
  redis_conf "$p" "$OUT/redis/$p" "$extra" >"$OUT/redis/$p/redis.conf"
  "$SERVER_BIN" "$OUT/redis/$p/redis.conf"
done
for p in "${PORTS[@]}"; do
  for _ in $(seq 1 100); do redis_running "$p" && break; sleep 0.05; done
  redis_running "$p" || { tail -5 "$OUT/redis/$p/redis.log" >&2; say "the server on port $p did not start"; exit 1; }
done
if [[ "$CLUSTER" == 1 ]]; then
  "$CLI_BIN" --cluster create $(printf '127.0.0.1:%s ' "${PORTS[@]}") --cluster-replicas 0 --cluster-yes >/dev/null
  for _ in $(seq 1 200); do "$CLI_BIN" -p "${PORTS[0]}" cluster info | grep -q 'cluster_state:ok' && break; sleep 0.05; done
fi
REDIS_CONN="$(printf '127.0.0.1:%s,' "${PORTS[@]}")"; REDIS_CONN="${REDIS_CONN%,}"
RC=("$CLI_BIN" -p "${PORTS[0]}"); [[ "$CLUSTER" == 1 ]] && RC+=(-c)
info_field() { "$CLI_BIN" -p "$1" info "$2" | tr -d '\r' | awk -F: -v k="$3" '$1==k {print $2}'; }
used_memory_sum() { local s=0 p; for p in "${PORTS[@]}"; do s=$((s + $(info_field "$p" memory used_memory))); done; echo "$s"; }
engine="$(basename "$SERVER_BIN") $("$SERVER_BIN" --version | grep -o 'v=[0-9.]*' | cut -d= -f2)"
# On 2 cores the sync, PostgreSQL and Redis compete, and a Redis thread descheduled for 150 ms
# shows as a 150 ms "fast-command" in LATENCY LATEST: the machine's stall, not Redis's. In service
# Redis has cores of its own; real-time scheduling (SCHED_FIFO) gives its threads a core whenever
# they can run, so the stall figures measure what Redis itself blocks on (a RENAME, a big UNLINK).
# SCALE_REDIS_PRIORITY=0 measures the shared machine instead.
if [[ "${SCALE_REDIS_PRIORITY:-1}" == 1 ]] && command -v chrt >/dev/null; then
  for p in "${PORTS[@]}"; do chrt -f -a -p 10 "$(info_field "$p" server process_id)" \
    || { say "could not give Redis real-time priority (root needed): SCALE_REDIS_PRIORITY=0 to measure without it"; exit 1; }; done
  engine+=" (SCHED_FIFO priority 10: a core whenever it runs, as on a host of its own)"
fi

# --- builds, outside every timing -----------------------------------------------------------------
say "building the CLI and the API (Release)"
dotnet build "$ROOT/src/Ut360.Cli/Ut360.Cli.csproj" -c Release -o "$OUT/cli" -nologo -v q -clp:ErrorsOnly >/dev/null
dotnet build "$ROOT/src/Ut360.Api/Ut360.Api.csproj" -c Release -o "$OUT/api" -nologo -v q -clp:ErrorsOnly >/dev/null
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src || echo '+changes')"

timed() { # name command...: runs it under GNU time, appends "name wall_s rss_mb" to $OUT/$N/times
  local name="$1"; shift
  local t0 t1; t0=$(now)
  /usr/bin/time -v -o "$OUT/$N/$name.time" "$@" >"$OUT/$N/$name.log" 2>&1 || { cat "$OUT/$N/$name.log" >&2; say "$name failed"; exit 1; }
  t1=$(now)
  echo "$name $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') $(awk '/Maximum resident set size/ {printf "%.0f", $6/1024}' "$OUT/$N/$name.time")" >>"$OUT/$N/times"
}

latency_sampler() { # redis-cli --latency prints "min max avg count" (ms) for each 1 s when not on a terminal
  while :; do "$CLI_BIN" -p "$1" --latency --raw 2>/dev/null || true; done >>"$OUT/$N/latency-$1.txt"
}

api_start() { # port extra-args...: the API on this size's data; echoes its pid
  local port="$1"; shift
  (cd "$OUT/api" && exec dotnet Ut360.Api.dll --urls "http://127.0.0.1:$port" --contentRoot . \
     --Api:RateLimitPerSecond 1000000 --Api:RateLimitBurst 1000000 \
     --ConnectionStrings:Postgres "Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$DB" \
     --ConnectionStrings:Redis "$REDIS_CONN" --Redis:Namespace "$NS" \
     --Auth:Keys:bench:Key "$KEY" --Auth:Keys:bench:Roles:0 lookup --Auth:Keys:bench:Roles:1 analyst \
     --Auth:Keys:bench:Roles:2 campaign "$@" >"$OUT/$N/api-$port.log" 2>&1) &
  echo $!
}
api_wait() { for _ in $(seq 1 150); do curl -fs "$1/health/ready" >/dev/null && return 0; sleep 0.2; done; say "the API did not start"; exit 1; }

bench_size() {
  N="$1"; DB="ut360_scale_$N"; NS="scale$N"; mkdir -p "$OUT/$N"; : >"$OUT/$N/times"
  local load_start; load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
  say "== $N subscribers: database $DB, namespace $NS (load average $load_start)"
  MADE_DBS+=("$DB")
  pg -d postgres -c "CREATE DATABASE $DB"
  export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$DB" ConnectionStrings__Redis="$REDIS_CONN"
  dotnet "$OUT/cli/Ut360.Cli.dll" db migrate >/dev/null
  for p in "${PORTS[@]}"; do "$CLI_BIN" -p "$p" flushall >/dev/null; done
  # FLUSHALL frees the previous size in the background (lazy freeing): the empty figure waits for it.
  for p in "${PORTS[@]}"; do
    for _ in $(seq 1 600); do [[ "$(info_field "$p" memory lazyfree_pending_objects)" == 0 ]] && break; sleep 0.1; done
  done
  local base_mem; base_mem="$(used_memory_sum)"

  say "generate"
  timed generate dotnet "$OUT/cli/Ut360.Cli.dll" generate --subscribers "$N" --out "$OUT/gen"
  local files_mb; files_mb="$(du -sm "$OUT/gen" | cut -f1)"
  say "load"
  timed load dotnet "$OUT/cli/Ut360.Cli.dll" load "$OUT/gen" --rejects "$OUT/$N/rejects.csv"
  rm -rf "$OUT/gen"
  local pg_bytes; pg_bytes="$(pg -d "$DB" -c "SELECT pg_database_size(current_database())")"

  # The machine's own stalls (other tenants, the scheduler): the same client sampling for 10 s
  # with nothing running against Redis, the baseline of the figure taken during the sync.
  local p samplers=() idle_client
  for p in "${PORTS[@]}"; do latency_sampler "$p" >/dev/null & samplers+=($!); done
  sleep 10
  for s in "${samplers[@]}"; do kill "$s" 2>/dev/null || true; wait "$s" 2>/dev/null || true; done
  idle_client="$(cat "$OUT/$N"/latency-*.txt | awk '{if ($2>m) m=$2} END{print m+0}')"
  rm -f "$OUT/$N"/latency-*.txt; samplers=()
  say "sync (latency monitor and sampling on)"
  for p in "${PORTS[@]}"; do "$CLI_BIN" -p "$p" latency reset >/dev/null; latency_sampler "$p" & samplers+=($!); done
  timed sync dotnet "$OUT/cli/Ut360.Cli.dll" sync --namespace "$NS"
  # The sync as it runs in service: over the previous version (every index member read back and
  # compared, every index RENAMEd over a live one).
  timed resync dotnet "$OUT/cli/Ut360.Cli.dll" sync --namespace "$NS"
  for s in "${samplers[@]}"; do kill "$s" 2>/dev/null || true; wait "$s" 2>/dev/null || true; done
  local stall_server=0 stall_client=0 ev
  : >"$OUT/$N/latency-events.txt"
  for p in "${PORTS[@]}"; do
    # LATENCY LATEST --raw: four lines per event (name, time, latest ms, max ms); the max of the maxima.
    ev="$("$CLI_BIN" -p "$p" --raw latency latest | awk 'NR%4==0 {if ($1>m) m=$1} END{print m+0}')"
    ((ev > stall_server)) && stall_server=$ev
    "$CLI_BIN" -p "$p" --raw latency latest | paste - - - - | sed "s/^/$p /" >>"$OUT/$N/latency-events.txt" || true
    ev="$(awk '{if ($2>m) m=$2} END{print m+0}' "$OUT/$N/latency-$p.txt")"
    ((ev > stall_client)) && stall_client=$ev
  done
  local used; used="$(used_memory_sum)"
  local per_node; per_node="$(for p in "${PORTS[@]}"; do printf '%s:%.0f MiB ' "$p" "$(info_field "$p" memory used_memory | awk '{print $1/1048576}')"; done)"
  local subs; subs="$(pg -d "$DB" -c "SELECT count(*) FROM recommendations")"

  # The largest index set and the time of a RENAME over it (a copy in the same slot, lazily freed).
  local largest="" largest_n=0 k c
  for k in $("${RC[@]}" --scan --pattern "$NS:idx:*" 2>/dev/null; [[ "$CLUSTER" == 1 ]] && for p in "${PORTS[@]:1}"; do "$CLI_BIN" -p "$p" --scan --pattern "$NS:idx:*"; done); do
    c="$("${RC[@]}" scard "$k" 2>/dev/null | grep -E '^[0-9]+$' || "${RC[@]}" zcard "$k")"
    ((c > largest_n)) && { largest="$k"; largest_n=$c; }
  done
  local node; node="$(for p in "${PORTS[@]}"; do [[ "$("$CLI_BIN" -p "$p" exists "$largest" 2>/dev/null)" == 1 ]] && { echo "$p"; break; }; done)"
  local R1=("$CLI_BIN" -p "$node")
  "${R1[@]}" copy "$largest" "{$largest}:probe" replace >/dev/null
  "${R1[@]}" config set slowlog-log-slower-than 0 >/dev/null; "${R1[@]}" slowlog reset >/dev/null
  "${R1[@]}" rename "{$largest}:probe" "$largest" >/dev/null
  local rename_us; rename_us="$("${R1[@]}" --raw slowlog get 10 | paste -sd' ' | grep -oE '[0-9]+ [0-9]+ [0-9]+ rename' | awk '{print $3}' | head -1)"
  "${R1[@]}" config set slowlog-log-slower-than 10000 >/dev/null

  say "API (near cache on: $ROUNDS rounds of UC1/UC5; off: one each)"
  KEY="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  local port; port="$(free_port)"; local BASE="http://127.0.0.1:$port"
  api_pid="$(api_start "$port")"; api_wait "$BASE"
  pg -d "$DB" -c "SELECT isdn FROM recommendations ORDER BY md5(isdn || 'bench') LIMIT 120000" >"$OUT/$N/sample.txt"
  head -20000 "$OUT/$N/sample.txt" >"$OUT/$N/isdns.txt"; tail -n +20001 "$OUT/$N/sample.txt" >"$OUT/$N/cold.txt"
  local esc='s|/|%2F|g; s|+|%2B|g'
  sed "$esc" "$OUT/$N/isdns.txt" | sed "s|^|$BASE/api/v1/recommendations/|" >"$OUT/$N/uc1.txt"
  sed "$esc" "$OUT/$N/isdns.txt" | sed "s|^|$BASE/api/v1/profiles/|" >"$OUT/$N/uc5.txt"
  local H=(-H "X-Api-Key: $KEY")
  for part in 0 1; do
    python3 -c "import json; l=[x.strip() for x in open('$OUT/$N/isdns.txt')][$part*10000:($part+1)*10000]; print(json.dumps({'isdns': l}))" \
      | curl -fs -o /dev/null "${H[@]}" -H 'Content-Type: application/json' --data-binary @- "$BASE/api/v1/recommendations/bulk"
  done
  h2load --h1 -c 1 -n 20000 -i "$OUT/$N/uc5.txt" "${H[@]}" >/dev/null
  h2load --h1 -c 8 -n 20000 -i "$OUT/$N/uc1.txt" "${H[@]}" >/dev/null
  rate() { h2load --h1 -c "$CONNS" --rps "$((RATE / CONNS))" -D "$SECS" "${H[@]}" --log-file "$OUT/$N/$1.log" -i "$2" >"$OUT/$N/$1.out"; }
  for r in $(seq 1 "$ROUNDS"); do rate "uc1-r$r" "$OUT/$N/uc1.txt"; rate "uc5-r$r" "$OUT/$N/uc5.txt"; done
  python3 "$ROOT/bench/api/percentiles.py" $(ls "$OUT/$N"/uc1-r*.log) >"$OUT/$N/uc1.json"
  python3 "$ROOT/bench/api/percentiles.py" $(ls "$OUT/$N"/uc5-r*.log) >"$OUT/$N/uc5.json"

  # UC2: pages of 100 at the start, the middle and the end of the largest service index, each
  # asked RUNS + 1 times (the first is cold: its members and records are read from Redis).
  local svc="" svc_n=0 t
  for t in EasyCredit MBFG ungsanluong; do
    c="$("${RC[@]}" zcard "$NS:idx:service:$t")"; ((c > svc_n)) && { svc="$t"; svc_n=$c; }
  done
  : >"$OUT/$N/uc2.txt"
  for off in 0 $((svc_n / 2)) $((svc_n - 100)); do
    for i in $(seq 0 "$RUNS"); do
      echo "$off $i $(curl -fsS -o /dev/null -w '%{time_total}' "${H[@]}" "$BASE/api/v1/services/$svc/recommendations?limit=100&offset=$off")" >>"$OUT/$N/uc2.txt"
    done
  done

  BULK_REDIS_CLUSTER="$CLUSTER" python3 "$ROOT/bench/api/bulk.py" "$BASE" "$KEY" "$OUT/$N/isdns.txt" "${PORTS[0]}" "$NS" "$RUNS" "$OUT/$N/cold.txt" >"$OUT/$N/bulk.json"
  kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true; api_pid=""

  local offport; offport="$(free_port)"; local OFF="http://127.0.0.1:$offport"
  api_pid="$(api_start "$offport" --NearCache:Recommendations 0 --NearCache:Profiles 0 --NearCache:Pages 0)"; api_wait "$OFF"
  sed "s|$BASE|$OFF|" "$OUT/$N/uc1.txt" >"$OUT/$N/uc1-off.txt"; sed "s|$BASE|$OFF|" "$OUT/$N/uc5.txt" >"$OUT/$N/uc5-off.txt"
  h2load --h1 -c 8 -n 20000 -i "$OUT/$N/uc1-off.txt" "${H[@]}" >/dev/null
  rate uc1-off "$OUT/$N/uc1-off.txt"; rate uc5-off "$OUT/$N/uc5-off.txt"
  python3 "$ROOT/bench/api/percentiles.py" "$OUT/$N/uc1-off.log" >"$OUT/$N/uc1-off.json"
  python3 "$ROOT/bench/api/percentiles.py" "$OUT/$N/uc5-off.log" >"$OUT/$N/uc5-off.json"
  kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true; api_pid=""

  pg -d postgres -c "DROP DATABASE $DB WITH (FORCE)"
  for p in "${PORTS[@]}"; do "$CLI_BIN" -p "$p" flushall >/dev/null; done
  local load_end; load_end="$(cut -d' ' -f1-3 /proc/loadavg)"
  python3 - "$OUT/$N" "$N" "$subs" "$files_mb" "$pg_bytes" "$base_mem" "$used" "$stall_server" "$stall_client" \
    "$largest" "$largest_n" "${rename_us:-0}" "$svc" "$svc_n" "$per_node" "$load_start" "$load_end" "$idle_client" <<'PY' >>"$OUT/sizes.tsv"
import json, statistics, sys
d, n, subs, files_mb, pg_bytes, base, used, stall_s, stall_c, largest, largest_n, rename_us, svc, svc_n, per_node, l0, l1, idle_c = sys.argv[1:]
# Per event (LATENCY LATEST): the largest max of each, over the nodes.
events = {}
for line in open(d + "/latency-events.txt"):
    f = line.split()
    events[f[1]] = max(events.get(f[1], 0), int(f[4]))
times = {l.split()[0]: (float(l.split()[1]), int(l.split()[2])) for l in open(d + "/times")}
j = lambda f: json.load(open(f"{d}/{f}"))
uc2 = {}
for line in open(d + "/uc2.txt"):
    off, i, t = line.split()
    uc2.setdefault(int(off), []).append(float(t) * 1000)
uc2 = {o: {"first_ms": round(v[0], 1), "p50_ms": round(statistics.median(v[1:]), 1)} for o, v in uc2.items()}
row = {"n": int(n), "subscribers": int(subs), "files_mb": int(files_mb), "times": times, "pg_bytes": int(pg_bytes),
       "redis_base": int(base), "redis_used": int(used), "stall_server_ms": int(stall_s), "stall_client_ms": int(stall_c),
       "largest": largest, "largest_n": int(largest_n), "rename_us": int(rename_us), "uc2_service": svc, "uc2_n": int(svc_n), "uc2": uc2,
       "uc1": j("uc1.json"), "uc5": j("uc5.json"), "uc1_off": j("uc1-off.json"), "uc5_off": j("uc5-off.json"), "bulk": j("bulk.json"),
       "per_node": per_node.strip(), "load_start": l0, "load_end": l1, "idle_client_ms": int(idle_c), "events": events}
print(json.dumps(row))
PY
  say "== $N done: $(tail -1 "$OUT/sizes.tsv" | cut -c1-300)"
}

df -h "$ROOT" | tail -1 | awk '{print "scale: disk free: " $4}' >&2
for n in "${SIZES[@]}"; do bench_size "$n"; done
python3 "$ROOT/bench/scale/report.py" "$OUT/sizes.tsv" "bench/scale.sh ${SIZES[*]}$([[ "$CLUSTER" == 1 ]] && echo ' (SCALE_CLUSTER=1)')" \
  "$engine$([[ "$CLUSTER" == 1 ]] && echo ", 3-master cluster on ${PORTS[*]}" || echo " on :${PORTS[0]}"), maxmemory $MAXMEM; PostgreSQL 127.0.0.1:$PG_PORT; SCALE_RATE=$RATE SCALE_CONNS=$CONNS SCALE_SECONDS=$SECS SCALE_ROUNDS=$ROUNDS SCALE_RUNS=$RUNS; CLI and API at $COMMIT" >"$OUT/report.md"
cat "$OUT/report.md"
say "report: $OUT/report.md"
