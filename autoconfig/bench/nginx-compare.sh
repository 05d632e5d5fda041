#!/usr/bin/env bash
# Compares autoconfig requests/s of `mailconf serve` (request logging on, to a file) with
# nginx serving the same bytes as a static file (access log on), in the same run.
# Server pinned to one core, wrk to another.
#
# Needs: apt-get install -y wrk nginx-light   (or nginx)
# Usage: autoconfig/bench/nginx-compare.sh [seconds] [connections]
#   ROUNDS=3 (alternating runs per server), SERVER_CPU=0, CLIENT_CPU=1, MAILCONF_ARGS=...
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
conns=${2:-32}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
for tool in wrk nginx taskset curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y wrk nginx-light)"; exit 1; }
done

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; sleep 0.2; rm -rf "$work"' EXIT
chmod 755 "$work"  # nginx workers run as another user
go build -o "$work/mailconf" ./cmd/mailconf

port_mc=18480
port_ng=18481
url_path=/mail/config-v1.1.xml

taskset -c "$server_cpu" "$work/mailconf" serve -http "127.0.0.1:$port_mc" ${MAILCONF_ARGS:-} 2>"$work/mailconf.log" &
for _ in $(seq 100); do grep -q msg=listening "$work/mailconf.log" 2>/dev/null && break; sleep 0.05; done

mkdir -p "$work/www/mail"
curl -sf -H 'Host: autoconfig.qq.com' "http://127.0.0.1:$port_mc$url_path" >"$work/www/mail/config-v1.1.xml"

cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
daemon on;
events { worker_connections 1024; }
http {
  access_log $work/nginx-access.log;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port_ng;
    root $work/www;
    location = $url_path { default_type "text/xml; charset=utf-8"; add_header Cache-Control no-cache; }
  }
}
CONF
taskset -c "$server_cpu" nginx -c "$work/nginx.conf" -e "$work/nginx-error.log"
sleep 0.3
cmp <(curl -sf "http://127.0.0.1:$port_ng$url_path") "$work/www/mail/config-v1.1.xml"

bench() {
  taskset -c "$client_cpu" wrk -t1 -c"$conns" -d"${secs}s" -H 'Host: autoconfig.qq.com' "$1" | awk '/Requests\/sec/ {print $2}'
}
# Warm both up, then measure alternately, rounds times, and compare the medians:
# on a small shared machine single runs vary by 10% or more.
rounds=${ROUNDS:-3}
bench "http://127.0.0.1:$port_mc$url_path" >/dev/null
bench "http://127.0.0.1:$port_ng$url_path" >/dev/null
mcs=(); ngs=()
for _ in $(seq "$rounds"); do
  mcs+=("$(bench "http://127.0.0.1:$port_mc$url_path")")
  ngs+=("$(bench "http://127.0.0.1:$port_ng$url_path")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mc=$(median "${mcs[@]}")
ng=$(median "${ngs[@]}")
lines=$(grep -c 'msg=http' "$work/mailconf.log" || true)
echo "mailconf: ${mcs[*]} req/s, median $mc (request log lines: $lines)"
echo "nginx:    ${ngs[*]} req/s, median $ng"
awk -v a="$mc" -v b="$ng" 'BEGIN { printf "ratio mailconf/nginx (medians): %.3f\n", a / b }'
