#!/usr/bin/env bash
# Runs every curl, dig and `mailconf records` example in README.md against `mailconf serve` on its built-in default,
# so the examples stay true. Each must exit 0 and print what an autoconfig client expects.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/mailconf
go build -o "$bin" ./cmd/mailconf
log=$(mktemp)
"$bin" serve >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q 'msg=listening' "$log" && break
  sleep 0.1
done
grep -q 'msg=listening' "$log" || { cat "$log"; echo "server did not start"; exit 1; }

fail=0
n=0
while IFS= read -r cmd; do
  n=$((n + 1))
  out=$(bash -c "$cmd" 2>&1) || { echo "FAIL (exit $?): $cmd"; fail=1; continue; }
  # What each kind of example must show.
  case "$cmd" in
    *example.com*) want='404' ;;
    *' -sI '*) want='200 OK' ;;
    *autodiscover.json*) want='"Protocol":"AutodiscoverV1"' ;;
    */setup*) want='imap.qq.com' ;;
    *mobileconfig*) want='<string>imap.qq.com</string>' ;;
    *Autodiscover.xml*) want='<Server>imap.qq.com</Server>' ;;
    dig*) want='0 1 993 imap.qq.com.' ;;
    *records*) want='_imaps._tcp.example.com.' ;;
    *) want='<hostname>imap.qq.com</hostname>' ;;
  esac
  if ! grep -qF "$want" <<<"$out"; then
    echo "FAIL: $cmd"; echo "  wanted $want in:"; sed 's/^/  /' <<<"$out"; fail=1
  else
    echo "ok: $cmd"
  fi
done < <(grep -E '^    (curl|dig|go run \./cmd/mailconf records) ' README.md | sed 's/^    //')
[ "$n" -gt 0 ] || { echo "no curl examples found in README.md"; exit 1; }
if grep -q '@' <(grep 'msg=http' "$log"); then
  echo "FAIL: the request log holds an address"; fail=1
fi
echo "$n README examples checked"
exit $fail
