#!/usr/bin/env bash
# bench/faults.sh: the API under faults. UC1, UC5 and UC2 run at a fixed rate for the whole run
# while the script pauses Redis 3 s (CLIENT PAUSE), restarts Redis empty, stops PostgreSQL 10 s
# and runs a full sync; per fault it reports the answers by status, p99 during and after, the
# time to recover and whether the process stayed up. Writes bench/results/faults.md.
#
# It stops and restarts servers, so it runs on servers of its own, never the shared ones: a
# PostgreSQL cluster initialised in the state directory and a redis-server, on the ports below.
#
#   bench/faults.sh
#   FAULTS_PG_PORT=56471 FAULTS_REDIS_PORT=56472 FAULTS_STATE_DIR=<a new temporary folder> \
#   FAULTS_SUBSCRIBERS=20000 FAULTS_RATE=400 bench/faults.sh     # the defaults
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
PG_PORT="${FAULTS_PG_PORT:-56471}"; REDIS_PORT="${FAULTS_REDIS_PORT:-56472}"
SUBSCRIBERS="${FAULTS_SUBSCRIBERS:-20000}"; RATE="${FAULTS_RATE:-400}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"; OUT="$ROOT/bench/out/faults-$STAMP"
# Under the temp directory by default: as root, PostgreSQL runs as the postgres user, who must reach it.
STATE="${FAULTS_STATE_DIR:-${TMPDIR:-/tmp}/ut360-faults-$STAMP}"
RESULTS="${FAULTS_RESULTS:-$ROOT/bench/results/faults.md}"
say() { echo "faults: $*" >&2; }
die() { say "$*"; exit 1; }

for port in "$PG_PORT" "$REDIS_PORT"; do
  case "$port" in
    55432|56379|47001|47002|47003) die "port $port is a shared server's: this bench stops its servers, give it ports of its own" ;;
  esac
  (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && die "port $port is in use: give FAULTS_PG_PORT / FAULTS_REDIS_PORT free ports"
done
for tool in initdb pg_ctl psql redis-server redis-cli h2load curl python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed (h2load: apt-get install nghttp2-client)"
done
mkdir -p "$OUT" "$STATE/pg"
as_pg() { if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[[ "$(id -u)" == 0 ]] && chown -R postgres: "$STATE/pg"

API_PID=""; H2_PIDS=()
PG=(as_pg pg_ctl -D "$STATE/pg/data" -l "$STATE/pg/server.log" -o "-p $PG_PORT -k $STATE/pg -c listen_addresses=127.0.0.1")
cleanup() {
  for p in "${H2_PIDS[@]}" $API_PID; do kill "$p" 2>/dev/null || true; done
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  "${PG[@]}" stop -m fast >/dev/null 2>&1 || true
  cp "$STATE/pg/server.log" "$OUT/postgres.log" 2>/dev/null || true
  [[ -n "${FAULTS_STATE_DIR:-}" ]] || rm -rf "$STATE"
}
trap cleanup EXIT
now_us() { date +%s%6N; }

say "servers of its own: PostgreSQL :$PG_PORT, Redis :$REDIS_PORT (state $STATE)"
as_pg initdb -D "$STATE/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$OUT/initdb.log" 2>&1 || { cat "$OUT/initdb.log" >&2; die "initdb failed"; }
"${PG[@]}" start -w >/dev/null
start_redis() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --logfile "$OUT/redis.log" --pidfile "$STATE/redis.pid" >/dev/null
  for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  die "redis-server did not start"
}
start_redis
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE ut360" >/dev/null
export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=ut360"
export ConnectionStrings__Redis="127.0.0.1:$REDIS_PORT"
export Ut360__IsdnKey="5554333630446576656c6f704b657921"   # generated demo data: the repository's demo key

say "$SUBSCRIBERS subscribers: generate, load, sync"
{
  "$ROOT/ut360" db migrate
  "$ROOT/ut360" generate --subscribers "$SUBSCRIBERS" --out "$STATE/data"
  "$ROOT/ut360" load "$STATE/data"
  "$ROOT/ut360" sync
} >"$OUT/prepare.log" 2>&1 || { tail -20 "$OUT/prepare.log" >&2; die "preparing the data failed"; }

say "building and starting the API (Release, near cache on, as deployed)"
dotnet build "$ROOT/src/Ut360.Api/Ut360.Api.csproj" -c Release -o "$ROOT/.build/api-faults" -nologo -v q -clp:ErrorsOnly >/dev/null
API_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$API_PORT"; KEY="faults-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
(cd "$ROOT/.build/api-faults" && exec dotnet Ut360.Api.dll --urls "$BASE" --contentRoot . \
   --Sync:Enabled false --Api:RateLimitPerSecond 1000000 --Api:RateLimitBurst 1000000 \
   --Auth:Keys:bench:Key "$KEY" --Auth:Keys:bench:Roles:0 lookup --Auth:Keys:bench:Roles:1 analyst \
   --Auth:Keys:bench:Roles:2 admin >"$OUT/api.log" 2>&1) &
API_PID=$!
for _ in $(seq 1 150); do curl -fs "$BASE/health/ready" >/dev/null && break; sleep 0.2; done
curl -fs "$BASE/health/ready" >/dev/null || { tail -20 "$OUT/api.log" >&2; die "the API did not start"; }
# The dotnet host's pid is the subshell's child; the process that must stay up is that one.
API_PROC="$(pgrep -P "$API_PID" -f Ut360.Api.dll || echo "$API_PID")"

PSQL=(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ut360 -qAt)
esc() { sed -e 's|/|%2F|g' -e 's|+|%2B|g'; }
"${PSQL[@]}" -c "SELECT isdn FROM recommendations ORDER BY md5(isdn) LIMIT 10000" | esc >"$OUT/isdns.txt"
sed "s|^|$BASE/api/v1/recommendations/|" "$OUT/isdns.txt" >"$OUT/uc1.txt"
sed "s|^|$BASE/api/v1/profiles/|" "$OUT/isdns.txt" >"$OUT/uc5.txt"
# Records outside the warmed sample, each read once: never in the near cache, so these go to
# Redis, to PostgreSQL after Redis restarted empty, and get a 503 while PostgreSQL is down.
"${PSQL[@]}" -c "SELECT isdn FROM recommendations ORDER BY md5(isdn) OFFSET 10000 LIMIT 10000" | esc \
  | sed "s|^|$BASE/api/v1/recommendations/|" >"$OUT/uc1cold.txt"
for service in EasyCredit MBFG ungsanluong; do
  for offset in 0 100 200 300 400; do echo "$BASE/api/v1/services/$service/recommendations?limit=100&offset=$offset"; done
done >"$OUT/uc2.txt"
H=(-H "X-Api-Key: $KEY")
say "warming: every sampled record once through the API"
# One client walks each list whole: h2load's clients each start at the top of an -i file, so
# 4 clients × 2,500 warmed only the first quarter, and the timeline's clients reached the rest,
# never read and so in no cache, just when Redis restarted empty (cold reads, not recovery).
h2load --h1 -c 1 -n 10000 -i "$OUT/uc1.txt" "${H[@]}" >/dev/null
h2load --h1 -c 1 -n 10000 -i "$OUT/uc5.txt" "${H[@]}" >/dev/null
h2load --h1 -c 1 -n 150 -i "$OUT/uc2.txt" "${H[@]}" >/dev/null

# The timeline: 10 s of baseline, then each fault followed by 12 s of watching it recover.
DURATION=110
say "load: UC1 $RATE req/s, UC5 $((RATE / 2)) req/s, UC2 $((RATE / 20)) req/s for $DURATION s; faults on a timeline"
LOAD_START="$(now_us)"; LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
h2load --h1 -c 4 --rps "$((RATE / 4))" -D "$DURATION" -i "$OUT/uc1.txt" "${H[@]}" --log-file "$OUT/uc1.log" >"$OUT/uc1.out" 2>&1 & H2_PIDS+=($!)
h2load --h1 -c 2 --rps "$((RATE / 4))" -D "$DURATION" -i "$OUT/uc5.txt" "${H[@]}" --log-file "$OUT/uc5.log" >"$OUT/uc5.out" 2>&1 & H2_PIDS+=($!)
h2load --h1 -c 1 --rps "$((RATE / 20))" -D "$DURATION" -i "$OUT/uc2.txt" "${H[@]}" --log-file "$OUT/uc2.log" >"$OUT/uc2.out" 2>&1 & H2_PIDS+=($!)
h2load --h1 -c 1 --rps "$((RATE / 20))" -D "$DURATION" -i "$OUT/uc1cold.txt" "${H[@]}" --log-file "$OUT/uc1cold.log" >"$OUT/uc1cold.out" 2>&1 & H2_PIDS+=($!)
# The control: /health/live touches neither Redis nor PostgreSQL, so when it is slow too, the
# whole machine stalled (other tenants' work on the 2 cores), not the API's handling of a fault.
h2load --h1 -c 1 --rps 100 -D "$DURATION" "$BASE/health/live" --log-file "$OUT/live.log" >"$OUT/live.out" 2>&1 & H2_PIDS+=($!)
EVENTS="$OUT/events.tsv"; : >"$EVENTS"
up() { kill -0 "$API_PROC" 2>/dev/null && curl -fs -m 2 "$BASE/health/live" >/dev/null && echo yes || echo no; }
# Where answers came from: the API's counters (near hits, Redis hits, misses, fallbacks,
# PostgreSQL reads, near-cache clears), read before a fault and after its watch.
snap() {
  curl -fs -m 2 "$BASE/metrics" | awk '
    { split($1, n, "{") }
    n[1] ~ /^ut360_(cache_near_hits|cache_hits|cache_misses|cache_fallbacks|postgres_reads|cache_near_invalidations)_total$/ { v[n[1]] += $2 }
    END { printf "%d %d %d %d %d %d", v["ut360_cache_near_hits_total"], v["ut360_cache_hits_total"], v["ut360_cache_misses_total"],
          v["ut360_cache_fallbacks_total"], v["ut360_postgres_reads_total"], v["ut360_cache_near_invalidations_total"] }' || echo "- - - - - -"
}
fault() { # name start_us end_us counters-before → events.tsv, with whether the process is still up after watching
  local name="$1" start="$2" end="$3" before="$4"
  sleep 12
  echo -e "$name\t$start\t$end\t$(up)\t$before\t$(snap)" >>"$EVENTS"
  say "$name: done (process up: $(tail -1 "$EVENTS" | cut -f4))"
}
sleep 10

m="$(snap)"; s="$(now_us)"; redis-cli -p "$REDIS_PORT" client pause 3000 all >/dev/null
sleep 3; e="$(now_us)"
fault "Redis paused 3 s (CLIENT PAUSE ALL)" "$s" "$e" "$m"

m="$(snap)"; s="$(now_us)"; redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
start_redis; e="$(now_us)"
fault "Redis restarted empty" "$s" "$e" "$m"

m="$(snap)"; s="$(now_us)"; "${PG[@]}" stop -m fast >/dev/null
sleep 10; "${PG[@]}" start -w >/dev/null; e="$(now_us)"
fault "PostgreSQL stopped 10 s" "$s" "$e" "$m"

m="$(snap)"; s="$(now_us)"; curl -fs -X POST "${H[@]}" "$BASE/api/v1/admin/sync" >"$OUT/sync.json"
run="$(python3 -c "import json; print(json.load(open('$OUT/sync.json'))['run_id'])")"
for _ in $(seq 1 600); do
  outcome="$(curl -fs "${H[@]}" "$BASE/api/v1/admin/sync/history?limit=5" | python3 -c "import json,sys; print(next((r.get('outcome') or '' for r in json.load(sys.stdin) if r['id'] == $run), ''))")"
  [[ -n "$outcome" && "$outcome" != running ]] && break
  sleep 0.2
done
e="$(now_us)"
fault "Full sync ($outcome)" "$s" "$e" "$m"

say "waiting for the load to finish"
wait "${H2_PIDS[@]}" || true
H2_PIDS=()
STILL_UP="$(up)"
python3 "$ROOT/bench/faults/report.py" "$EVENTS" "$LOAD_START" "$OUT" "$STILL_UP" \
  "Run $(date -u +%Y-%m-%dT%H:%M:%SZ) by \`bench/faults.sh\` on $(nproc) cores; $SUBSCRIBERS generated subscribers; UC1 $RATE req/s (4 connections), UC5 $((RATE / 2)) req/s (2), UC2 $((RATE / 20)) req/s (1, pages of 100), UC1 cold $((RATE / 20)) req/s (1, records outside the warmed sample, each read once); the 10,000 sampled records and the UC2 pages warmed into the near cache first. Load average (1/5/15 min) when the load started: $LOAD_BEFORE (anything well above 2 means other work shared the 2 cores)." \
  "$(cut -d' ' -f1-3 /proc/loadavg)" >"$RESULTS"
cat "$RESULTS"
say "raw logs: $OUT"
