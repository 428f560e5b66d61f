"""Create or drop one PostgreSQL database: `pgdb.py create|drop ADMIN_URL NAME`."""

import re
import sys

import psycopg

action, admin_url, name = sys.argv[1:4]
if not re.fullmatch(r"[a-z0-9_]{1,63}", name):
    raise SystemExit(f"unsafe database name: {name!r}")
with psycopg.connect(admin_url, autocommit=True) as conn:
    if action == "create":
        conn.execute(f'CREATE DATABASE "{name}"')
    else:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
