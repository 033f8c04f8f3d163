#!/bin/sh
# The demo (README, first command), as docker-compose.yml's service "demo" runs it in the tool's
# own image: a token by the device-code grant (through the image's oauth2c; the stand-in signs its
# admin in by itself, so nobody has to), then a migration of the stand-in's mailboxes with the
# image's imapsync. The report lands in demo/output/ of the clone.
#
# It starts as root only to run the tool as the owner of this folder (the person who cloned the
# repository), so that what it writes there is theirs to read and remove; the stand-in's users
# file and password files are handed over to that account the same way, still 0600.
set -eu
owner="$(stat -c %u /demo)"
group="$(stat -c %g /demo)"
install -d -o "$owner" -g "$group" -m 0755 /demo/output
config=/tmp/demo-config
install -d -o "$owner" -g "$group" -m 0700 "$config" "$config/secrets"
install -o "$owner" -g "$group" -m 0600 /standin/users.csv "$config/users.csv"
for file in /standin/secrets/*.pass; do
  install -o "$owner" -g "$group" -m 0600 "$file" "$config/secrets/"
done
# The stand-in's settings (AUTHORITY_URL, HOST1, PORT1...), with the ports it was given.
set -a
. /standin/standin.env
set +a
export GRANT=device-code WORK_DIR=/demo/output
cd "$config"
setpriv --reuid="$owner" --regid="$group" --clear-groups m365-imapsync token
echo "The report goes to demo/output/ of your clone: open demo/output/report.html."
exec setpriv --reuid="$owner" --regid="$group" --clear-groups \
  m365-imapsync migrate --users "$config/users.csv"
