#!/usr/bin/env bash
# bench/api.sh: whole-system figures of the HTTP API, baselines measured in the same run.
#
# Starts the API (Release, production logging, every feature on: API keys, rate limiting,
# metrics) on a free loopback port against the database and Redis namespace given, warms what
# Redis lacks through the API's own cache-aside path, then drives it with h2load (HTTP/1.1,
# a fixed request rate per connection) on random ISDNs of the dataset, next to nginx serving a
# static 600-byte JSON file (the machine's HTTP ceiling) and redis-benchmark HGETALL on the same
# keys. Writes bench/results/api.md.
#
#   bench/api.sh                              # the default dataset (database ut360, namespace ut360)
#   BENCH_DB=ut360_api_bench BENCH_NS=bench:ut360 bench/api.sh   # a bench/api/seed.sql database
#   BENCH_RATE=2000 BENCH_CONNS=8 BENCH_SECONDS=15 BENCH_RUNS=5 BENCH_RATE_ROUNDS=3   # the defaults
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
DB="${BENCH_DB:-ut360}"; NS="${BENCH_NS:-ut360}"
RATE="${BENCH_RATE:-2000}"; CONNS="${BENCH_CONNS:-8}"; SECONDS_PER_RUN="${BENCH_SECONDS:-15}"; RUNS="${BENCH_RUNS:-5}"
RATE_ROUNDS="${BENCH_RATE_ROUNDS:-3}"
PG_PORT="${UT360_PG_PORT:-55432}"; REDIS_PORT="${UT360_REDIS_PORT:-56379}"
OUT="$ROOT/bench/out/api-$(date -u +%Y%m%dT%H%M%SZ)"; mkdir -p "$OUT"
RESULTS="$ROOT/bench/results/api.md"
PSQL=(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$DB" -qAt)
# The bench data is demo data: its ISDNs use the repository's demo key, named as Production requires.
export Ut360__IsdnKey="${Ut360__IsdnKey:-5554333630446576656c6f704b657921}"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
say() { echo "bench: $*" >&2; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

[[ "$("${PSQL[@]}" -c 'SELECT count(*) FROM recommendations')" -gt 0 ]] \
  || { say "database $DB has no recommendations: run ./ut360 up, or seed one with bench/api/seed.sql"; exit 1; }

say "building the API (Release)"
dotnet build "$ROOT/src/Ut360.Api/Ut360.Api.csproj" -c Release -o "$ROOT/.build/api-bench" -nologo -v q -clp:ErrorsOnly >/dev/null
API_PORT="$(free_port)"; KEY="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"; BASE="http://127.0.0.1:$API_PORT"
# The per-key limiter stays on (its cost is in every figure) at a limit above any peak this
# machine reaches, so a peak run measures the API, not 429s; peaks count 2xx answers only.
LIMIT=(--Api:RateLimitPerSecond 1000000 --Api:RateLimitBurst 1000000)
(cd "$ROOT/.build/api-bench" && exec dotnet Ut360.Api.dll --urls "$BASE" --contentRoot . "${LIMIT[@]}" \
   --ConnectionStrings:Postgres "Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$DB" \
   --ConnectionStrings:Redis "127.0.0.1:$REDIS_PORT" --Redis:Namespace "$NS" \
   --Auth:Keys:bench:Key "$KEY" --Auth:Keys:bench:Roles:0 lookup --Auth:Keys:bench:Roles:1 analyst \
   --Auth:Keys:bench:Roles:2 campaign --Auth:Keys:bench:Roles:3 admin >"$OUT/api.log" 2>&1) &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "$BASE/health/ready" >/dev/null && break; sleep 0.2; done
curl -fs "$BASE/health/ready" >/dev/null || { cat "$OUT/api.log" >&2; say "the API did not start"; exit 1; }

say "sampling 20,000 ISDNs of $DB"
"${PSQL[@]}" -c "SELECT isdn FROM recommendations ORDER BY md5(isdn || 'bench') LIMIT 20000" >"$OUT/isdns.txt"
# ISDNs outside the sample, each used once by the UC6 cases that must not meet the near cache.
"${PSQL[@]}" -c "SELECT isdn FROM recommendations WHERE md5(isdn || 'bench') > (SELECT max(h) FROM (SELECT md5(isdn || 'bench') h FROM recommendations ORDER BY 1 LIMIT 20000) s) ORDER BY md5(isdn || 'cold') LIMIT 150000" >"$OUT/cold.txt"
esc() { sed -e 's|/|%2F|g' -e 's|+|%2B|g'; }
esc <"$OUT/isdns.txt" | sed "s|^|$BASE/api/v1/recommendations/|" >"$OUT/uc1.txt"
esc <"$OUT/isdns.txt" | sed "s|^|$BASE/api/v1/profiles/|" >"$OUT/uc5.txt"
python3 -c "
import random; r = random.Random(7)
for _ in range(5000): print('$BASE/api/v1/services/' + r.choice(['EasyCredit','MBFG','ungsanluong']) + '/recommendations?limit=100&offset=' + str(r.randrange(0, 20000)))" >"$OUT/uc2.txt"
H=(-H "X-Api-Key: $KEY")

say "warming: records of the sample (bulk, fills misses), profiles, indexes"
# Answers an earlier run cached (structure G, kept an hour) would let the warm-up and the UC6
# cases skip the very work they exist for.
redis-cli -p "$REDIS_PORT" --scan --pattern "$NS:bulk:*" | xargs -r -n 500 redis-cli -p "$REDIS_PORT" unlink >/dev/null
for part in 0 1; do
  python3 -c "import json,sys; l=[x.strip() for x in open('$OUT/isdns.txt')][$part*10000:($part+1)*10000]; print(json.dumps({'isdns': l}))" \
    | curl -fs -o /dev/null -H "X-Api-Key: $KEY" -H 'Content-Type: application/json' --data-binary @- "$BASE/api/v1/recommendations/bulk"
done
# One client walks each list whole (h2load's clients each start at the top of an -i file).
h2load --h1 -c 1 -n 20000 -i "$OUT/uc5.txt" "${H[@]}" >/dev/null
for path in services/EasyCredit/recommendations services/MBFG/recommendations services/ungsanluong/recommendations risk/LOW/subscribers risk/MEDIUM/subscribers; do
  curl -fs -o /dev/null "${H[@]}" "$BASE/api/v1/$path?limit=1"
done
for k in service:EasyCredit service:MBFG service:ungsanluong risk:LOW risk:MEDIUM; do
  for _ in $(seq 1 300); do [[ "$(redis-cli -p "$REDIS_PORT" exists "$NS:idx:$k")" == 1 ]] && break; sleep 0.1; done
done
h2load --h1 -c 1 -n 5000 -i "$OUT/uc2.txt" "${H[@]}" >/dev/null   # pages' records into Redis
h2load --h1 -c 8 -n 20000 -i "$OUT/uc1.txt" "${H[@]}" >/dev/null  # JIT warm-up

say "nginx baseline"
NGINX_PORT="$(free_port)"; NG="$OUT/nginx"; mkdir -p "$NG/html" "$NG/logs" "$NG/tmp"
python3 -c "import json; s=json.dumps({'isdn':'++/hZFPrCDRre55vsZqqxQ==','subscriber_type':'PRE','service_type':'EasyCredit','advance_amount':25000,'revenue_per_advance':7500,'cluster_group':1,'bad_debt_risk':'LOW','arpu_avg_6m':2757.5,'arpu_growth_rate':-56.7,'arpu_trend':'Giam','customer_value_score':70,'advance_readiness_score':90,'recommendation_date':'2025-10-22','priority':'HIGH','priority_score':63}); print((s[:-1] + ',\"pad\":\"' + 'x'*(600-len(s)-10) + '\"}')[:600], end='')" >"$NG/html/rec.json"
cat >"$NG/nginx.conf" <<CONF
worker_processes 1;
pid $NG/nginx.pid;
error_log $NG/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $NG/tmp; proxy_temp_path $NG/tmp; fastcgi_temp_path $NG/tmp; uwsgi_temp_path $NG/tmp; scgi_temp_path $NG/tmp;
  server { listen 127.0.0.1:$NGINX_PORT; root $NG/html; default_type application/json; keepalive_requests 1000000; }
}
CONF
nginx -c "$NG/nginx.conf" -p "$NG"
trap 'cleanup; kill "$(cat "$NG/nginx.pid")" 2>/dev/null || true' EXIT

rate_run() { # name urls-file|url: one fixed-rate run, its h2load log in $OUT/name.log
  local name="$1" target="$2" args=()
  if [[ -f "$target" ]]; then args=(-i "$target"); else args=("$target"); fi
  h2load --h1 -c "$CONNS" --rps "$((RATE / CONNS))" -D "$SECONDS_PER_RUN" "${H[@]}" --log-file "$OUT/$name.log" "${args[@]}" >"$OUT/$name.out"
}
rounds() { # name: the summary of that run's rounds (median of each figure, bench/api/percentiles.py)
  python3 "$ROOT/bench/api/percentiles.py" $(for r in $(seq 1 "$RATE_ROUNDS"); do echo "$OUT/$1-r$r.log"; done)
}
peak_run() { # name urls-file|url → 2xx answers per second (a 429 or a 5xx is not throughput)
  local name="$1" target="$2" args=()
  if [[ -f "$target" ]]; then args=(-i "$target"); else args=("$target"); fi
  h2load --h1 -t 1 -c 32 -n 200000 "${H[@]}" "${args[@]}" >"$OUT/$name.out"
  python3 - "$OUT/$name.out" <<'PY'
import re, sys
out = open(sys.argv[1]).read()
seconds = float(re.search(r"finished in ([0-9.]+)s", out).group(1))
ok = int(re.search(r"status codes: (\d+) 2xx", out).group(1))
print(round(ok / seconds, 2))
PY
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
say "rate runs: $RATE req/s over $CONNS connections, ${SECONDS_PER_RUN}s each, $RATE_ROUNDS rounds"
metric() { curl -fs "$1/metrics" | awk -v m="$2" 'index($1, m "{") == 1 || $1 == m {print $2}' | head -1; }
near_share() { # base run-name urls-file: a rate run, writing the share of records answered in process
  local n0 h0 n1 h1
  n0="$(metric "$1" ut360_cache_near_hits_total)"; h0="$(metric "$1" ut360_cache_hits_total)"
  rate_run "$2" "$3"
  n1="$(metric "$1" ut360_cache_near_hits_total)"; h1="$(metric "$1" ut360_cache_hits_total)"
  python3 -c "n=${n1:-0}-${n0:-0}; h=${h1:-0}-${h0:-0}; print(f'{100*n/max(1,n+h):.1f}', file=open('$OUT/$2.near', 'w'))"
}
# The machine's speed moves under other tenants' work (a UC2 run once went from a 1.4 ms to a
# 5 ms median half-way through, nginx's ceiling from 35,000 to 55,000 req/s within the hour), so
# the rate runs go round nginx, UC2, UC1, UC5 several times and every figure is the median of
# its rounds (p99 by round in the table).
for r in $(seq 1 "$RATE_ROUNDS"); do
  rate_run "nginx-r$r" "http://127.0.0.1:$NGINX_PORT/rec.json"
  # The pages the rate run asks for (its clients start at the top of the file), kept near like the
  # UC1 sample: the 5,000-page walk above holds more members than NearCache:Pages and pushed them out.
  h2load --h1 -c 1 -n 1000 -i "$OUT/uc2.txt" "${H[@]}" >/dev/null
  RATE_SAVED="$RATE"; RATE=200; rate_run "uc2-r$r" "$OUT/uc2.txt"; RATE="$RATE_SAVED"
  near_share "$BASE" "uc1-r$r" "$OUT/uc1.txt"
  near_share "$BASE" "uc5-r$r" "$OUT/uc5.txt"
done
NGINX_RATE="$(rounds nginx)"; UC2_RATE="$(rounds uc2)"; UC1_RATE="$(rounds uc1)"; UC5_RATE="$(rounds uc5)"
UC1_NEAR="$(sort -n "$OUT"/uc1-r*.near | head -1)"; UC5_NEAR="$(sort -n "$OUT"/uc5-r*.near | head -1)"
say "peak runs: 32 connections, 200,000 requests"
# The ceiling moves with the machine's other work (35,000-48,000 req/s on the same box within an
# hour), so UC1 and nginx alternate three times and the verdict takes the median of the ratios.
PEAK_ROUNDS=()
for r in 1 2 3; do
  n="$(peak_run "nginx-peak$r" "http://127.0.0.1:$NGINX_PORT/rec.json")"; u="$(peak_run "uc1-peak$r" "$OUT/uc1.txt")"
  PEAK_ROUNDS+=("$n $u")
done
read -r NGINX_PEAK UC1_PEAK PEAK_RATIO < <(printf '%s\n' "${PEAK_ROUNDS[@]}" | python3 -c "
import sys, statistics
rounds = [tuple(map(float, l.split())) for l in sys.stdin if l.strip()]
print(statistics.median(n for n, _ in rounds), statistics.median(u for _, u in rounds), round(statistics.median(u / n for n, u in rounds), 3))")
UC5_PEAK="$(peak_run uc5-peak "$OUT/uc5.txt")"
say "the same API with its near cache off: every record read from Redis"
OFF_PORT="$(free_port)"; OFF="http://127.0.0.1:$OFF_PORT"
(cd "$ROOT/.build/api-bench" && exec dotnet Ut360.Api.dll --urls "$OFF" --contentRoot . "${LIMIT[@]}" \
   --ConnectionStrings:Postgres "Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$DB" \
   --ConnectionStrings:Redis "127.0.0.1:$REDIS_PORT" --Redis:Namespace "$NS" \
   --NearCache:Recommendations 0 --NearCache:Profiles 0 --NearCache:Pages 0 \
   --Auth:Keys:bench:Key "$KEY" --Auth:Keys:bench:Roles:0 lookup --Auth:Keys:bench:Roles:1 analyst >"$OUT/api-off.log" 2>&1) &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "$OFF/health/ready" >/dev/null && break; sleep 0.2; done
sed "s|$BASE|$OFF|" "$OUT/uc1.txt" >"$OUT/uc1-off.txt"; sed "s|$BASE|$OFF|" "$OUT/uc5.txt" >"$OUT/uc5-off.txt"; sed "s|$BASE|$OFF|" "$OUT/uc2.txt" >"$OUT/uc2-off.txt"
h2load --h1 -c 8 -n 20000 -i "$OUT/uc1-off.txt" "${H[@]}" >/dev/null; h2load --h1 -c 8 -n 20000 -i "$OUT/uc5-off.txt" "${H[@]}" >/dev/null
rate_run uc1-off "$OUT/uc1-off.txt"; UC1_OFF_RATE="$(python3 "$ROOT/bench/api/percentiles.py" "$OUT/uc1-off.log")"
rate_run uc5-off "$OUT/uc5-off.txt"; UC5_OFF_RATE="$(python3 "$ROOT/bench/api/percentiles.py" "$OUT/uc5-off.log")"
h2load --h1 -c 1 -n 5000 -i "$OUT/uc2-off.txt" "${H[@]}" >/dev/null
RATE_SAVED="$RATE"; RATE=200; rate_run uc2-off "$OUT/uc2-off.txt"; RATE="$RATE_SAVED"
UC2_OFF_RATE="$(python3 "$ROOT/bench/api/percentiles.py" "$OUT/uc2-off.log")"
UC1_OFF_PEAK="$(peak_run uc1-off-peak "$OUT/uc1-off.txt")"
kill "${pids[-1]}" 2>/dev/null || true

say "redis-benchmark HGETALL on a sampled rec key"
SAMPLE_KEY="$NS:rec:$(head -1 "$OUT/isdns.txt")"
redis-benchmark -p "$REDIS_PORT" -c "$CONNS" -n 200000 HGETALL "$SAMPLE_KEY" >"$OUT/redis-benchmark.txt" 2>&1
REDIS_LINE="$(grep -A2 'latency summary' "$OUT/redis-benchmark.txt" | tail -1 | xargs)"
REDIS_TPUT="$(grep -oE 'throughput summary: [0-9.]+' "$OUT/redis-benchmark.txt" | grep -oE '[0-9.]+$')"
say "UC6 bulk and the export (${RUNS} runs each)"
BULK="$(python3 "$ROOT/bench/api/bulk.py" "$BASE" "$KEY" "$OUT/isdns.txt" "$REDIS_PORT" "$NS" "$RUNS" "$OUT/cold.txt")"
echo "$BULK" >"$OUT/bulk.json"

j() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, d))" "$1" "$2"; }
row() { echo "| $1 | $(j "$2" rate) | $(j "$2" p50_ms) | $(j "$2" p99_ms) | $(j "$2" "', '.join(map(str, p99_rounds)) if 'p99_rounds' in dir() else '–'") | $(j "$2" p999_ms) | $(j "$2" max_ms) | $(j "$2" non_2xx) |"; }
{
  echo "# API benchmark"
  echo
  echo "Run $(date -u +%Y-%m-%dT%H:%M:%SZ) by \`bench/api.sh\` (BENCH_DB=$DB, BENCH_NS=$NS) on $(nproc) cores"
  echo "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load generator on the same machine."
  echo "Dataset: $("${PSQL[@]}" -c 'SELECT count(*) FROM recommendations') subscribers; 20,000 random ISDNs of it drive UC1/UC5."
  echo "API: Release build, production logging (Warning for requests), API key auth, per-key rate limiter on"
  echo "(at 1,000,000 req/s, above any peak here: peaks count 2xx answers only),"
  echo "Load average (1/5/15 min) before the measured runs: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "(anything well above 2 means other work shared the 2 cores and inflates every figure, baselines included)."
  echo "OpenTelemetry metrics (Prometheus) all on. h2load $(h2load --version | awk '{print $2}'), HTTP/1.1, keep-alive."
  echo
  echo "## Fixed rate: $RATE req/s over $CONNS connections, ${SECONDS_PER_RUN} s (UC2: 200 req/s)"
  echo
  echo "The first four rows: $RATE_ROUNDS rounds of nginx, UC2, UC1, UC5 in turn; each figure is the median of the"
  echo "rounds (max: the slowest request of all). The near-cache-off rows: one run each."
  echo
  echo "| target | achieved req/s | p50 ms | p99 ms | p99 by round | p99.9 ms | max ms | non-2xx |"
  echo "|---|---|---|---|---|---|---|---|"
  row "nginx, static 600-byte JSON (baseline)" "$NGINX_RATE"
  row "UC1 GET /recommendations/{isdn} (${UC1_NEAR}% of records from the near cache)" "$UC1_RATE"
  row "UC5 GET /profiles/{isdn} (${UC5_NEAR}% from the near cache)" "$UC5_RATE"
  row "UC2 GET /services/{type}/recommendations, page of 100 (warmed: pages and records from the near cache)" "$UC2_RATE"
  row "UC1, near cache off (every request reads Redis)" "$UC1_OFF_RATE"
  row "UC5, near cache off" "$UC5_OFF_RATE"
  row "UC2, near cache off (every page reads its ZREVRANGE and records from Redis)" "$UC2_OFF_RATE"
  echo
  echo "## Peak throughput: 32 connections, 200,000 requests, h2load on one thread"
  echo
  echo "| target | 2xx answers/s |"
  echo "|---|---|"
  echo "| nginx, static 600-byte JSON (the machine's HTTP ceiling), median of 3 | $NGINX_PEAK |"
  echo "| UC1, median of 3, each run right after an nginx run | $UC1_PEAK |"
  for r in 0 1 2; do
    read -r n u <<<"${PEAK_ROUNDS[$r]}"
    echo "| round $((r + 1)): nginx, UC1 (ratio) | $n, $u ($(python3 -c "print(round($u / $n, 3))")×) |"
  done
  echo "| UC5 | $UC5_PEAK |"
  echo "| UC1, near cache off | $UC1_OFF_PEAK |"
  echo "| redis-benchmark HGETALL $NS:rec:… ($CONNS connections, no HTTP) | $REDIS_TPUT |"
  echo
  echo "redis-benchmark latency (avg min p50 p95 p99 max, ms): $REDIS_LINE"
  echo
  echo "## UC6 bulk of 10,000 ISDNs and the export of every LOW-risk ISDN ($RUNS runs each)"
  echo
  echo "| case | p50 ms | max ms |"
  echo "|---|---|---|"
  echo "| UC6 all 10,000 in the near cache (answer not cached) | $(j "$BULK" "bulk_all_hit['p50_ms']") | $(j "$BULK" "bulk_all_hit['max_ms']") |"
  echo "| UC6 all 10,000 in Redis, none in the near cache | $(j "$BULK" "bulk_redis_only['p50_ms']") | $(j "$BULK" "bulk_redis_only['max_ms']") |"
  echo "| UC6 none of the 10,000 in Redis (PostgreSQL = ANY, written back) | $(j "$BULK" "bulk_all_miss['p50_ms']") | $(j "$BULK" "bulk_all_miss['max_ms']") |"
  echo "| export risk/LOW as CSV ($(j "$BULK" "export_low['members']") ISDNs) | $(j "$BULK" "export_low['p50_ms']") | $(j "$BULK" "export_low['max_ms']") |"
  echo
  echo "## Targets"
  echo
  uc1p99="$(j "$UC1_RATE" p99_ms)"; uc5p99="$(j "$UC5_RATE" p99_ms)"; ngp99="$(j "$NGINX_RATE" p99_ms)"
  check() { python3 -c "print('met' if $1 else 'missed')"; }
  echo "| target | figure | verdict |"
  echo "|---|---|---|"
  echo "| UC1 p99 ≤ 1 ms at $RATE req/s (median of $RATE_ROUNDS rounds) | $uc1p99 ms | $(check "$uc1p99 <= 1") |"
  echo "| UC1 p99 ≤ 2× nginx p99 ($ngp99 ms) | $uc1p99 ms | $(check "$uc1p99 <= 2 * $ngp99") |"
  echo "| UC5 p99 ≤ 1 ms at $RATE req/s | $uc5p99 ms | $(check "$uc5p99 <= 1") |"
  echo "| UC5 p99 ≤ 2× nginx p99 | $uc5p99 ms | $(check "$uc5p99 <= 2 * $ngp99") |"
  echo "| UC1 peak ≥ 0.55× nginx peak (median ratio of 3 rounds) | ${PEAK_RATIO}× | $(check "$PEAK_RATIO >= 0.55") |"
  echo "| UC2 page of 100 p99 ≤ 5 ms (median of $RATE_ROUNDS rounds) | $(j "$UC2_RATE" p99_ms) ms | $(check "$(j "$UC2_RATE" p99_ms) <= 5") |"
  echo "| UC6 10,000 all-hit p50 ≤ 100 ms (near cache) | $(j "$BULK" "bulk_all_hit['p50_ms']") ms | $(check "$(j "$BULK" "bulk_all_hit['p50_ms']") <= 100") |"
  echo "| UC6 10,000 all-hit p50 ≤ 100 ms (Redis only) | $(j "$BULK" "bulk_redis_only['p50_ms']") ms | $(check "$(j "$BULK" "bulk_redis_only['p50_ms']") <= 100") |"
  # 187.8 ms: the Redis-only p50 of the hand-written near cache and breaker (bench/results/api.md
  # of 2026-11-26), which the FusionCache/Polly read path must not exceed by more than 10 %.
  echo "| UC6 10,000 all-hit p50 (Redis only) ≤ 1.1× 187.8 ms, the hand-written cache's figure | $(j "$BULK" "bulk_redis_only['p50_ms']") ms | $(check "$(j "$BULK" "bulk_redis_only['p50_ms']") <= 1.1 * 187.8") |"
  echo "| UC6 10,000 all-miss p50 ≤ 300 ms | $(j "$BULK" "bulk_all_miss['p50_ms']") ms | $(check "$(j "$BULK" "bulk_all_miss['p50_ms']") <= 300") |"
  echo "| export of 180,000 LOW ≤ 1 s | $(j "$BULK" "export_low['p50_ms']") ms | $(check "$(j "$BULK" "export_low['p50_ms']") <= 1000") |"
  echo
  echo "## Reading these figures"
  echo "- UC1/UC5 rows: the warm-up puts the whole sample in the near cache (docs/api-design.md); the"
  echo "  \"near cache off\" rows are the same build with NearCache:*=0, every record read from Redis."
  echo "- h2load's clients each start at the top of an -i file: a rate run touches the first ~RATE×SECONDS/8 ISDNs."
  echo "- UC6: every request is timed by curl (sending the list to reading the whole answer), each list"
  echo "  different, so the answer cache (structure G) is never what is measured; the Redis-only and"
  echo "  all-miss cases each make two unmeasured requests first (JIT and the first multi-megabyte buffers)."
  echo "  Per-run times: bench/out/$(basename "$OUT")/bulk.json."
  echo "- Where the time goes (the tail floor of ASP.NET Core on this machine, UC6's parts): docs/api-design.md,"
  echo "  \"Performance notes\"."
  echo
  echo "Raw h2load output, logs and the per-request latencies of this run: bench/out/$(basename "$OUT")/ (not committed)."
} >"$RESULTS"
cat "$RESULTS"
