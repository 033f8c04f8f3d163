#!/usr/bin/env bash
# Captures of the live views at many mailboxes (default 10,000): the terminal view in a tmux pane
# (tmux capture-pane) and the plain view off a terminal, each after CAPTURE_AFTER seconds of a
# migration with a fake imapsync that prints half of a real success log, waits a second, then
# prints the rest (so that mailboxes are seen running). The migrations are then stopped (SIGTERM).
# Writes bench/out/captures/terminal.txt and plain.txt. Needs a build and tmux.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${CAPTURE_MAILBOXES:-10000}
after=${CAPTURE_AFTER:-60}
out=bench/out/captures
rm -rf "$out" && mkdir -p "$out"
log=$PWD/fixtures/imapsync-2.229-m365/ok_xoauth2_delegated.log
fake=$PWD/$out/fake-imapsync
printf '#!/bin/sh\nhead -n 300 %s\nsleep 1\ntail -n +301 %s\n' "$log" "$log" >"$fake"
chmod 755 "$fake"
{
  echo "source,destination,password,password_file"
  for i in $(seq 1 "$count"); do printf 'user%05d@contoso.com,,dest-pw-%d,\n' "$i" "$i"; done
} >"$out/users.csv"

setup() { # $1: work directory
  mkdir -p -m 700 "$1"
  node --input-type=module -e "
    const { mintAccessToken } = await import('$PWD/dist/test/doubles/entra.js');
    process.stdout.write(mintAccessToken({ upn: 'admin@contoso.test', ttlSec: 86400, appId: 'app-ok', tid: '11111111-2222-3333-4444-555555555555' }) + '\n');
  " >"$1/token"
  chmod 600 "$1/token"
}
envs="TENANT_ID=11111111-2222-3333-4444-555555555555 APP_ID=app-ok LOGIN_HINT=admin@contoso.test HOST2=127.0.0.1 TLS2=none IMAPSYNC_BIN=$fake OAUTH2C_BIN=/bin/false TOKEN_MARGIN=0"

setup "$out/work-plain"
env $envs WORK_DIR="$out/work-plain" node dist/src/cli.js migrate --users "$out/users.csv" \
  >"$out/plain-stdout.txt" 2>"$out/plain.txt" &
plain=$!

setup "$out/work-tty"
session=m365-capture-$$
tmux new-session -d -s "$session" -x 110 -y 30 \
  "env $envs WORK_DIR=$out/work-tty node dist/src/cli.js migrate --users $out/users.csv; sleep 30"
sleep "$after"
tmux capture-pane -p -t "$session" >"$out/terminal.txt"
# Stop both migrations the way docker stop would.
kill -TERM "$(tmux list-panes -t "$session" -F '#{pane_pid}' | xargs pgrep -P | head -1)" 2>/dev/null || true
kill -TERM "$plain" 2>/dev/null || true
wait "$plain" || true
sleep 5
tmux kill-session -t "$session" 2>/dev/null || true
echo "terminal view: $out/terminal.txt"
echo "plain view:    $out/plain.txt ($(wc -l <"$out/plain.txt") lines after ${after}s)"
