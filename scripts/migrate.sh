#!/usr/bin/env bash
# Bring the database named by IDP_DATABASE_URL (default: the SQLite file) to the current schema.
set -euo pipefail
cd "$(dirname "$0")/.."
idp db upgrade
