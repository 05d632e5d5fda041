#!/usr/bin/env bash
# Takes the README's screenshots of the setup page, in English and in Chinese, with
# headless Chromium (Debian: apt-get install -y chromium fonts-noto-cjk), from
# `mailconf serve` on its built-in configuration. Writes docs/screenshots/*.png.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v chromium >/dev/null || { echo "chromium not installed (apt-get install -y chromium fonts-noto-cjk)"; exit 1; }
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/mailconf" ./cmd/mailconf
"$work/mailconf" serve -http 127.0.0.1:18089 -dns '' -admin '' 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q msg=listening "$work/log" && break; sleep 0.05; done
for lang in en zh-CN; do
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile" --hide-scrollbars --force-device-scale-factor=1 \
    --window-size=760,1420 --screenshot="docs/screenshots/setup-$lang.png" \
    "http://127.0.0.1:18089/setup?emailaddress=alice%40qq.com&lang=$lang" 2>/dev/null
  echo "docs/screenshots/setup-$lang.png"
done
