#!/usr/bin/env bash
# The checks CI runs: ruff (lint and format) and mypy --strict.
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check idp consent tests bench migrations scripts
ruff format --check idp consent tests bench migrations scripts
mypy idp consent
