#!/usr/bin/env bash
# Stops what scripts/standin-start.sh started (pidfiles in $STANDIN_DIR) and waits until it is gone.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node dist/scripts/standin/main.js stop
