#!/usr/bin/env bash
# Checks deploy/mailconf.service with systemd-analyze verify, against a freshly built
# binary put where the unit expects it (in a scratch copy of the unit).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze not available; unit not verified"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/mailconf" ./cmd/mailconf
sed "s|/usr/local/bin/mailconf|$work/mailconf|" deploy/mailconf.service >"$work/mailconf.service"
systemd-analyze verify "$work/mailconf.service"
echo "systemd unit verified"
