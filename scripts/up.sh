#!/usr/bin/env bash
# ./ut360 up: the whole system on this machine: local servers, schema, the default dataset
# (generated once), loaded into PostgreSQL, synced into Redis, served on http://127.0.0.1:8080
# (--urls URL moves it; other arguments go to ./ut360 serve as well).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UT="$ROOT/ut360"
DATA="${UT360_DATA_DIR:-$ROOT/data/default}"

# The demo data's ISDNs are encrypted with the repository's public demo key
# (IsdnCipher.DemoKeyHex); the API requires a key to be named in Production, so up names it.
if [[ -z "${Ut360__IsdnKey:-}" ]]; then
  export Ut360__IsdnKey="5554333630446576656c6f704b657921"
  echo "ut360 up: ISDNs use the public demo key (demo data only); set Ut360__IsdnKey for real numbers" >&2
fi
"$UT" services up
"$UT" db migrate
if [[ ! -f "$DATA/recommendations.parquet" ]]; then
  "$UT" generate --out "$DATA"
fi
# A load of files already loaded changes nothing, so running up again is cheap and safe.
"$UT" load "$DATA"
"$UT" sync
# A local API key with every role, made once and kept in the git-ignored .local/ (the API
# loads it through --ApiKeysFile, see scripts/serve.sh).
KEYS="$ROOT/.local/api-keys.json"
if [[ ! -f "$KEYS" ]]; then
  mkdir -p "$ROOT/.local"
  key="ut360-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  umask 077
  printf '{ "Auth": { "Keys": { "local-demo": { "Key": "%s", "Roles": [ "lookup", "analyst", "campaign", "admin" ] } } } }\n' "$key" >"$KEYS"
fi
# Where serve will listen: its default, or the first address of an --urls passed through.
url="http://127.0.0.1:8080" args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; i++)); do [[ "${args[i]}" == --urls ]] && url="${args[i + 1]%%;*}"; done
echo "ut360: API key (every role) for $url: $(grep -o '"Key": "[^"]*"' "$KEYS" | cut -d'"' -f4)"
echo "ut360:   curl -H 'X-Api-Key: …' $url/api/v1/stats   (reference: $url/scalar)"
exec "$UT" serve "$@"
