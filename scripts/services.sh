# Local PostgreSQL and Redis for UT360, sourced by ./ut360. Servers bind 127.0.0.1 only.
# When ConnectionStrings__Postgres / ConnectionStrings__Redis are set, those servers are used
# and nothing local is started.

PG_BIN="${UT360_PG_BIN:-/usr/lib/postgresql/15/bin}"

log() { echo "ut360: $*" >&2; }
die() { log "$*"; exit 1; }

# Ports: the environment's (UT360_PG_PORT, UT360_REDIS_PORT, UT360_REDIS_CLUSTER_PORTS), else the
# ones this checkout's last `services up` used (remembered in .local/ports), else the project's.
# They are exported, so every command of the checkout (db migrate, load, sync, serve, psql,
# redis-cli, the tests) reaches the same servers.
PORTS_FILE="${UT360_STATE_DIR:-$UT360_ROOT/.local}/ports"
if [[ -f "$PORTS_FILE" ]]; then
  while IFS='=' read -r key value; do
    case "$key" in
      UT360_PG_PORT|UT360_REDIS_PORT|UT360_REDIS_CLUSTER_PORTS)
        [[ -z "${!key:-}" ]] && printf -v "$key" '%s' "$value" ;;
    esac
  done <"$PORTS_FILE"
fi
PG_PORT="${UT360_PG_PORT:-55432}"
REDIS_PORT="${UT360_REDIS_PORT:-56379}"
# Cluster bus ports are these + 10000, so they must stay at or below 55535.
CLUSTER_PORTS=(${UT360_REDIS_CLUSTER_PORTS:-47001 47002 47003})
for port in "$PG_PORT" "$REDIS_PORT" "${CLUSTER_PORTS[@]}"; do
  [[ "$port" =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "not a TCP port: '$port' (UT360_PG_PORT, UT360_REDIS_PORT, UT360_REDIS_CLUSTER_PORTS)"
done
export UT360_PG_PORT="$PG_PORT" UT360_REDIS_PORT="$REDIS_PORT" UT360_REDIS_CLUSTER_PORTS="${CLUSTER_PORTS[*]}"

remember_ports() {
  mkdir -p "$(dirname "$PORTS_FILE")"
  printf 'UT360_PG_PORT=%s\nUT360_REDIS_PORT=%s\nUT360_REDIS_CLUSTER_PORTS=%s\n' \
    "$PG_PORT" "$REDIS_PORT" "${CLUSTER_PORTS[*]}" >"$PORTS_FILE"
}

# A server already answering on one of our ports must be this checkout's (its data directory
# under our state dir): otherwise a load or sync meant for this checkout would replace another
# checkout's data. UT360_SHARE_SERVERS=1 (the tests, which isolate themselves in databases and
# key namespaces of their own) accepts any.
refuse_foreign() {
  # $1 what, $2 port, $3 the server's directory, $4 ours, $5 variable to move
  [[ "${UT360_SHARE_SERVERS:-}" == 1 || -z "$3" || "$3" == "$4" ]] && return 0
  die "$1 on 127.0.0.1:$2 belongs to another checkout (its data: $3). Give this checkout its own port ($5=…; 'services up' remembers it) or set UT360_SHARE_SERVERS=1 to use it anyway."
}
pg_check_owner() {
  local dir
  dir="$("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -XAtc 'SHOW data_directory' 2>/dev/null || true)"
  refuse_foreign PostgreSQL "$PG_PORT" "$dir" "$(state_dir)/pg/data" UT360_PG_PORT
}
redis_dir() { "$CLI_BIN" -h 127.0.0.1 -p "$1" config get dir 2>/dev/null | sed -n 2p; }
redis_check_owner() { refuse_foreign Redis "$REDIS_PORT" "$(redis_dir "$REDIS_PORT")" "$(state_dir)/redis" UT360_REDIS_PORT; }

is_root() { [[ "$(id -u)" == 0 ]]; }

# apt-get that waits (up to 10 minutes) for another apt/dpkg process to release its lock instead
# of failing with "Could not get lock /var/lib/dpkg/lock-frontend".
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 "$@"; }

# As root, PostgreSQL runs as the postgres user; as anyone else, as that user.
as_pg() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

state_dir() {
  # The data lives in a git-ignored folder of the checkout (or UT360_STATE_DIR), unless the
  # postgres user cannot reach it; then in a per-checkout folder under the system temp directory.
  local dir="${UT360_STATE_DIR:-$UT360_ROOT/.local}" base="${UT360_STATE_DIR:-$UT360_ROOT}"
  [[ -d "$base" ]] || base="$(dirname "$base")"
  if is_root && ! runuser -u postgres -- test -x "$base" 2>/dev/null; then
    dir="${TMPDIR:-/tmp}/ut360-$(printf '%s' "${UT360_STATE_DIR:-$UT360_ROOT}" | sha1sum | cut -c1-12)"
  fi
  echo "$dir"
}

external_pg() { [[ -n "${ConnectionStrings__Postgres:-}" ]]; }
external_redis() { [[ -n "${ConnectionStrings__Redis:-}" ]]; }

pg_running() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1; }
redis_running() { [[ -n "$CLI_BIN" && "$("$CLI_BIN" -h 127.0.0.1 -p "${1:-$REDIS_PORT}" ping 2>/dev/null)" == PONG ]]; }

# The engine: Valkey 8 where the distribution offers it (Debian 12: bookworm-backports, which as
# root we enable), Redis otherwise; UT360_REDIS_ENGINE=valkey|redis chooses. Both speak the same
# protocol and read the same configuration (docs/redis.md, "Engines"). Sets SERVER_BIN and CLI_BIN.
SERVER_BIN="" CLI_BIN=""
pick_cli() {
  # The client works against either engine; whichever is installed.
  CLI_BIN="$(command -v redis-cli || command -v valkey-cli || true)"
}
pick_cli

valkey_available() {
  # valkey-server of major version 8 or later, installed or installable.
  local v
  if command -v valkey-server >/dev/null; then
    v="$(valkey-server --version | grep -o 'v=[0-9]*' | cut -d= -f2)"
    [[ "${v:-0}" -ge 8 ]] && return 0
  fi
  is_root && command -v apt-get >/dev/null || return 1
  enable_backports
  v="$(apt-cache policy valkey-server 2>/dev/null | awk '/Candidate:/ {print $2}')"
  [[ -n "$v" && "$v" != "(none)" && "${v%%.*}" =~ ^[0-9]+$ && "${v%%.*}" -ge 8 ]]
}

enable_backports() {
  # Debian 12 ships Valkey 8 in bookworm-backports only; enabling it changes nothing else
  # (backports are never installed unless asked for by name). Tolerates a mirror without it.
  grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release || return 0
  grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
  log "enabling bookworm-backports (for valkey-server 8)…"
  echo "deb http://deb.debian.org/debian bookworm-backports main" >/etc/apt/sources.list.d/ut360-bookworm-backports.list
  apt_get update -qq >/dev/null 2>&1 || log "apt-get update failed; Valkey may be unavailable"
}

install_package() {
  # $1 package, $2 its system service (stopped: ours run on the project's ports)
  log "installing $1 (apt-get)…"
  (apt_get update -qq; apt_get install -y -qq ${3:+-t "$3"} "$1") >/dev/null || return 1
  (systemctl disable --now "$2" || service "$2" stop) >/dev/null 2>&1 || true
}

# Installs (as root, when missing) and names the server binary of an engine; fails when the
# engine is not available here.
engine_server() {
  case "$1" in
    valkey)
      valkey_available || return 1
      if ! command -v valkey-server >/dev/null; then
        local suite=""
        grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release && suite=bookworm-backports
        install_package valkey-server valkey-server "$suite" || return 1
      fi
      command -v valkey-server ;;
    redis)
      if ! command -v redis-server >/dev/null; then
        is_root && command -v apt-get >/dev/null || return 1
        install_package redis-server redis-server || return 1
      fi
      command -v redis-server ;;
    *) return 1 ;;
  esac
}

# The engine of a running server ("valkey" or "redis"), from INFO.
engine_of() { "$CLI_BIN" -h 127.0.0.1 -p "$1" info server 2>/dev/null | grep -q '^valkey_version:' && echo valkey || echo redis; }

ensure_redis_installed() {
  [[ -n "$SERVER_BIN" ]] && return 0
  local engine="${UT360_REDIS_ENGINE:-auto}"
  if [[ "$engine" != redis ]]; then
    SERVER_BIN="$(engine_server valkey || true)"
    [[ -z "$SERVER_BIN" && "$engine" == valkey ]] && die "UT360_REDIS_ENGINE=valkey, but valkey-server 8 is not available here"
    [[ -z "$SERVER_BIN" ]] && log "Valkey 8 is not available here; using Redis"
  fi
  [[ -n "$SERVER_BIN" ]] || SERVER_BIN="$(engine_server redis || true)"
  [[ -n "$SERVER_BIN" ]] || die "neither valkey-server 8 nor redis-server is installed: run 'sudo apt-get install redis-server' (or set ConnectionStrings__Redis)"
  pick_cli
  if [[ -z "$CLI_BIN" ]]; then
    install_package valkey-tools valkey-server >/dev/null 2>&1 || install_package redis-tools redis-server || true
    pick_cli
  fi
}

pg_up() {
  external_pg && { log "PostgreSQL: using ConnectionStrings__Postgres (nothing local started)"; return 0; }
  if pg_running; then pg_check_owner; return 0; fi
  [[ -x "$PG_BIN/pg_ctl" ]] || die "PostgreSQL 15 server binaries not found in $PG_BIN (apt-get install postgresql-15)"
  local dir; dir="$(state_dir)"
  local data="$dir/pg/data" run="$dir/pg/run"
  mkdir -p "$dir/pg" "$run"
  is_root && chown -R postgres: "$dir/pg"
  if [[ ! -f "$data/PG_VERSION" ]]; then
    log "PostgreSQL: initdb in $data"
    as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$data/postgresql.conf" <<CONF
# UT360 local server: loopback only; tuned for bulk loads on a small machine.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$run'
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
wal_level = minimal
max_wal_senders = 0
synchronous_commit = off
max_connections = 200
jit = off
CONF
  fi
  as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$dir/pg/server.log" -w -t 60 start >/dev/null \
    || { tail -20 "$dir/pg/server.log" >&2; die "PostgreSQL did not start (log above)"; }
  as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAtc \
    "SELECT 1 FROM pg_database WHERE datname='ut360'" | grep -q 1 \
    || as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres ut360
  log "PostgreSQL: 127.0.0.1:$PG_PORT (data in $data)"
}

pg_down() {
  external_pg && return 0
  local data; data="$(state_dir)/pg/data"
  [[ -f "$data/postmaster.pid" ]] && as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null && log "PostgreSQL stopped"
  return 0
}

redis_conf() {
  # $1 port, $2 dir, $3 extra lines
  cat <<CONF
bind 127.0.0.1
protected-mode yes
port $1
dir $2
daemonize yes
pidfile $2/redis.pid
logfile $2/redis.log
# Redis is a cache rebuilt from PostgreSQL by 'ut360 sync': no RDB snapshots (no fork pauses)
# and no AOF. See docs/redis.md.
save ""
appendonly no
# Every rec and profile hash stays listpack-encoded: 14 short fields, JSON sections < 4 KB.
hash-max-listpack-entries 128
hash-max-listpack-value 4096
# Only keys with a TTL (rec, profile, bulk) may be evicted; indexes and meta never are.
maxmemory ${UT360_REDIS_MAXMEMORY:-2gb}
maxmemory-policy volatile-lru
# Free large values in a background thread: a sync's publish RENAMEs over live indexes of up to
# ~140,000 members; freed synchronously that blocked Redis ~100 ms, lazily 74 µs (docs/redis.md).
lazyfree-lazy-server-del yes
lazyfree-lazy-user-del yes
lazyfree-lazy-eviction yes
lazyfree-lazy-expire yes
$3
CONF
}

redis_up() {
  external_redis && { log "Redis: using ConnectionStrings__Redis (nothing local started)"; return 0; }
  redis_running && { redis_check_owner; return 0; }
  ensure_redis_installed
  local dir; dir="$(state_dir)/redis"
  mkdir -p "$dir"
  redis_conf "$REDIS_PORT" "$dir" "" >"$dir/redis.conf"
  "$SERVER_BIN" "$dir/redis.conf" || die "$SERVER_BIN did not start (see $dir/redis.log)"
  for _ in $(seq 1 100); do redis_running && break; sleep 0.05; done
  redis_running || die "Redis did not answer on 127.0.0.1:$REDIS_PORT (see $dir/redis.log)"
  log "Redis: 127.0.0.1:$REDIS_PORT ($SERVER_BIN $("$SERVER_BIN" --version | grep -o 'v=[0-9.]*' | cut -d= -f2))"
}

redis_down() {
  external_redis && return 0
  redis_running && redis_check_owner
  redis_running && "$CLI_BIN" -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 && log "Redis stopped"
  return 0
}

cluster_up() {
  ensure_redis_installed
  local base; base="$(state_dir)/redis-cluster"
  local port started=0
  for port in "${CLUSTER_PORTS[@]}"; do
    if redis_running "$port"; then
      refuse_foreign "Redis Cluster node" "$port" "$(redis_dir "$port")" "$base/$port" UT360_REDIS_CLUSTER_PORTS
      continue
    fi
    mkdir -p "$base/$port"
    rm -f "$base/$port/nodes.conf"
    redis_conf "$port" "$base/$port" "cluster-enabled yes
cluster-config-file $base/$port/nodes.conf
cluster-node-timeout 5000" >"$base/$port/redis.conf"
    "$SERVER_BIN" "$base/$port/redis.conf" || die "cluster node $port ($SERVER_BIN) did not start"
    started=1
  done
  for port in "${CLUSTER_PORTS[@]}"; do
    for _ in $(seq 1 100); do redis_running "$port" && break; sleep 0.05; done
  done
  if ! "$CLI_BIN" -h 127.0.0.1 -p "${CLUSTER_PORTS[0]}" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
    local nodes=()
    for port in "${CLUSTER_PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
    "$CLI_BIN" --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null \
      || die "$CLI_BIN --cluster create failed"
    for _ in $(seq 1 200); do
      "$CLI_BIN" -h 127.0.0.1 -p "${CLUSTER_PORTS[0]}" cluster info | grep -q 'cluster_state:ok' && break
      sleep 0.05
    done
  fi
  log "Redis Cluster: $(printf '127.0.0.1:%s ' "${CLUSTER_PORTS[@]}")(3 masters)"
}

cluster_down() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    redis_running "$port" && refuse_foreign "Redis Cluster node" "$port" "$(redis_dir "$port")" "$(state_dir)/redis-cluster/$port" UT360_REDIS_CLUSTER_PORTS
    redis_running "$port" && "$CLI_BIN" -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
}

services_ensure_pg() { pg_up; }
services_ensure_redis() { redis_up; }
services_ensure() { pg_up; redis_up; }

services_main() {
  local action="${1:-status}" cluster=0
  [[ $# -gt 0 ]] && shift
  for arg in "$@"; do [[ "$arg" == --redis-cluster ]] && cluster=1; done
  case "$action" in
    up) pg_up; redis_up; [[ $cluster == 1 ]] && cluster_up; remember_ports; return 0 ;;
    down) [[ $cluster == 1 ]] && cluster_down; pg_down; redis_down ;;
    status)
      local rc=0
      if external_pg; then echo "PostgreSQL: external (ConnectionStrings__Postgres)";
      elif pg_running; then echo "PostgreSQL: running on 127.0.0.1:$PG_PORT"; else echo "PostgreSQL: stopped"; rc=1; fi
      if external_redis; then echo "Redis: external (ConnectionStrings__Redis)";
      elif redis_running; then echo "Redis: running on 127.0.0.1:$REDIS_PORT"; else echo "Redis: stopped"; rc=1; fi
      if redis_running "${CLUSTER_PORTS[0]}"; then echo "Redis Cluster: running on ${CLUSTER_PORTS[*]}"; fi
      return $rc ;;
    *) die "usage: ./ut360 services up|down|status [--redis-cluster]" ;;
  esac
}

# psql / redis-cli on the configured servers, the tools' own arguments passed through.
exec_psql() {
  if external_pg; then
    local kv=() part key val
    IFS=';' read -ra parts <<<"$ConnectionStrings__Postgres"
    for part in "${parts[@]}"; do
      key="${part%%=*}"; val="${part#*=}"; key="${key,,}"; key="${key// /}"
      case "$key" in
        host|server) kv+=("host=$val") ;; port) kv+=("port=$val") ;;
        username|userid|user) kv+=("user=$val") ;; password) kv+=("password=$val") ;;
        database|db) kv+=("dbname=$val") ;;
      esac
    done
    exec psql "${kv[*]}" "$@"
  fi
  exec psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ut360 "$@"
}

exec_redis_cli() {
  if external_redis; then
    local first="${ConnectionStrings__Redis%%,*}" args=() opt
    args+=(-h "${first%:*}" -p "${first##*:}")
    IFS=',' read -ra opts <<<"$ConnectionStrings__Redis"
    for opt in "${opts[@]:1}"; do
      [[ "${opt,,}" == password=* ]] && args+=(-a "${opt#*=}" --no-auth-warning)
    done
    exec "$CLI_BIN" "${args[@]}" "$@"
  fi
  exec "$CLI_BIN" -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}
