#!/usr/bin/env bash
# Starts the local Microsoft 365 stand-in (OAuth server, Office-like IMAP front, source and
# destination Dovecot) in the background and prints the settings for .env.
# State lives in $STANDIN_DIR (default ./standin); scripts/standin/main.ts lists the other knobs.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/scripts/standin/main.js ] || npm run build >/dev/null
exec node dist/scripts/standin/main.js start
