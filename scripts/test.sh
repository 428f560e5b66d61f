#!/usr/bin/env bash
# Runs the whole suite on SQLite, then on a fresh PostgreSQL database that it creates and drops.
# IDP_TEST_POSTGRES_ADMIN_URL names the server (default: the local one); SKIP_POSTGRES=1 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== pytest on SQLite"
env -u IDP_TEST_DATABASE_URL python -m pytest "$@"

if [ "${SKIP_POSTGRES:-0}" = "1" ]; then exit 0; fi
admin="${IDP_TEST_POSTGRES_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
db="idp_test_$(date +%s)_$$"
python scripts/pgdb.py create "$admin" "$db"
trap 'python scripts/pgdb.py drop "$admin" "$db"' EXIT
echo "== pytest on PostgreSQL ($db)"
IDP_TEST_DATABASE_URL="${admin%/*}/$db" python -m pytest "$@"
