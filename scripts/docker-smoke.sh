#!/usr/bin/env bash
# Smoke test of the image on a machine with Docker: build it, check the programs it carries, then
# point it at the local Microsoft 365 stand-in (needs dovecot-imapd and a built checkout here):
# `check` and `migrate --plan` must reach the stand-in's servers through the host network.
# Usage: scripts/docker-smoke.sh [image tag]   (extra `docker build` flags in DOCKER_BUILD_ARGS)
set -euo pipefail
cd "$(dirname "$0")/.."
image="${1:-m365-imapsync:smoke}"

# shellcheck disable=SC2086 # DOCKER_BUILD_ARGS is a list of flags
docker build ${DOCKER_BUILD_ARGS:-} -t "$image" .
docker run --rm "$image" --help
docker run --rm --entrypoint sh "$image" -c \
  'set -e; id -u | grep -vx 0; node --version; imapsync --version; oauth2c --version 2>&1 | head -1'

export STANDIN_DIR="${STANDIN_DIR:-$(mktemp -d)}"
work="$(mktemp -d)"
chmod 0777 "$work" # the image runs as uid 10001
cleanup() {
  scripts/standin-stop.sh || true
  rm -rf "$work"
}
trap cleanup EXIT
[ -f dist/scripts/standin/main.js ] || npm run build
scripts/standin-start.sh

run() {
  docker run --rm --network host --env-file "$STANDIN_DIR/standin.env" \
    -v "$STANDIN_DIR:/standin:ro" -v "$work:/work" "$image" "$@"
}
run migrate --users /standin/users.csv --plan
# `check` needs a token: take one from the stand-in's implicit endpoint (it signs in LOGIN_HINT at
# once; without response_mode=form_post the token comes back in the redirect's fragment).
authority="$(sed -n 's/^AUTHORITY_URL=//p' "$STANDIN_DIR/standin.env")"
curl -s -o /dev/null -D - \
  "${authority%/v2.0}/oauth2/v2.0/authorize?client_id=m365-imapsync&response_type=token&login_hint=admin@contoso.test&redirect_uri=http://localhost:9876/callback&scope=https://outlook.office365.com/.default" |
  sed -n 's/^[Ll]ocation: .*[#&]access_token=\([^&]*\).*/\1/p' | tr -d '\r' >"$work/token.in"
test -s "$work/token.in" || { echo "the stand-in gave no token" >&2; exit 1; }
chmod 0644 "$work/token.in"
run token --import /work/token.in
# bob is not delegated to the admin: check must run every mailbox and report that one (exit 1).
status=0
run check --users /standin/users.csv || status=$?
if [ "$status" -gt 1 ]; then
  echo "check failed to run (exit $status)" >&2
  exit 1
fi
echo "docker smoke test passed"
