#!/usr/bin/env bash
# How mailconf scales with the domains and providers it serves: for each scenario, the
# time from start to ready (/readyz 200), the memory (RSS once ready, and its peak),
# and the server CPU per request for autoconfig (wrk) and per DNS query (dnsperf),
# next to the built-in two-domain configuration measured in the same run. Then, for the
# 100,000-domain scenario, a refresh that changes 1% of the domains while wrk and
# dnsperf run: no request may fail.
#
# Scenarios (generated in a temporary directory):
#   builtin       the built-in configuration: 2 domains (the reference for the rest)
#   hosting2      one provider as those of domains100k, with 2 domains: the reference
#                 for the per-request cost of domains100k (the same records and
#                 documents, built per domain)
#   providers10k  10,000 small providers, 2 domains each, in one 4.5 MB YAML file
#   domains100k   10 providers, 10,000 domains each from a file, imap.%EMAILDOMAIN% hosts
#   domains1m     10 providers, 100,000 domains each (set SCENARIOS to include it)
#
# Needs: apt-get install -y wrk dnsperf curl
# Usage: bench/scale.sh
# Environment: SCENARIOS="builtin providers10k domains100k" ROUNDS=5 SECS=5 QPS=20000
#   SERVER_CPU=0 CLIENT_CPU=1 (per-request measurements; loading uses every CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
scenarios=${SCENARIOS:-builtin hosting2 providers10k domains100k}
rounds=${ROUNDS:-5}
secs=${SECS:-5}
qps=${QPS:-20000}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
for tool in wrk dnsperf curl taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y wrk dnsperf curl)"; exit 1; }
done
hz=$(getconf CLK_TCK)
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/mailconf" ./cmd/mailconf

# gen SCENARIO: writes $work/SCENARIO/config.yaml (and domain files); prints the
# domain the per-request measurements ask for.
gen() {
  local dir=$work/$1
  mkdir -p "$dir"
  case $1 in
  builtin)
    echo 'providers: [{builtin: qq.com}]' >"$dir/config.yaml"
    echo qq.com ;;
  providers10k)
    awk 'BEGIN {
      print "providers:"
      for (i = 0; i < 10000; i++) {
        printf "  - id: p%d.example\n    display_name: Provider %d\n    domains: [p%d.example, alias%d.example]\n", i, i, i, i
        printf "    incoming:\n      - {type: imap, hostname: imap.p%d.example, port: 993, socket: SSL}\n", i
        printf "      - {type: pop3, hostname: pop.p%d.example, port: 995, socket: SSL}\n", i
        printf "    outgoing:\n      - {hostname: smtp.p%d.example, port: 465, socket: SSL}\n", i
        printf "    documentation:\n      - url: https://help.p%d.example/mail\n        description: {en: Help, zh-CN: 帮助}\n", i
      }
    }' >"$dir/config.yaml"
    echo p5000.example ;;
  hosting2 | domains100k | domains1m)
    local per=10000 providers="0 1 2 3 4 5 6 7 8 9"
    [ "$1" = domains1m ] && per=100000
    [ "$1" = hosting2 ] && per=5001 providers=5
    {
      echo "providers:"
      for p in $providers; do
        if [ "$1" = hosting2 ]; then
          echo "c5-5000.example" >"$dir/domains$p.txt"
        else
          awk -v p="$p" -v n="$per" 'BEGIN { for (i = 0; i < n; i++) printf "c%d-%d.example\n", p, i }' >"$dir/domains$p.txt"
        fi
        printf '  - id: hoster%d.example\n    display_name: Hoster %d\n    domains: [hoster%d.example]\n' "$p" "$p" "$p"
        printf '    domains_from: [{file: domains%d.txt}]\n    domains_refresh: 1s\n' "$p"
        printf '    incoming:\n      - {type: imap, hostname: "imap.%%EMAILDOMAIN%%", port: 993, socket: SSL}\n'
        printf '      - {type: pop3, hostname: "pop.%%EMAILDOMAIN%%", port: 995, socket: SSL}\n'
        printf '    outgoing:\n      - {hostname: "smtp.%%EMAILDOMAIN%%", port: 465, socket: SSL}\n'
      done
    } >"$dir/config.yaml"
    echo c5-5000.example ;;
  esac
}

ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

declare -A http_us dns_us
measure() { # measure SCENARIO DOMAIN: one round of per-request costs
  local before after n
  before=$(ticks "$pid")
  n=$(taskset -c "$client_cpu" wrk -t1 -c32 -d"${secs}s" -H "Host: autoconfig.$2" "http://127.0.0.1:18580/mail/config-v1.1.xml" | awk '/requests in/ {print $1}')
  after=$(ticks "$pid")
  http_us[$1]+="$(awk -v t=$((after - before)) -v hz="$hz" -v n="$n" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}') "
  printf '_imaps._tcp.%s SRV\n_pop3s._tcp.%s SRV\nnope.%s A\n%s SOA\n' "$2" "$2" "$2" "$2" >"$work/q.txt"
  before=$(ticks "$pid")
  n=$(taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p 18553 -d "$work/q.txt" -l "$secs" -Q "$qps" 2>/dev/null | awk '/Queries completed:/ {print $3}')
  after=$(ticks "$pid")
  dns_us[$1]+="$(awk -v t=$((after - before)) -v hz="$hz" -v n="$n" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}') "
}

declare -A ready_s rss_mb
start() { # start SCENARIO: runs mailconf on it, prints seconds to ready, RSS and peak
  local t0 t1
  t0=$(date +%s%N)
  "$work/mailconf" serve -config "$work/$1/config.yaml" -http 127.0.0.1:18580 -dns 127.0.0.1:18553 -admin 127.0.0.1:18590 -log-level warn 2>"$work/$1.log" &
  pid=$!
  until curl -sf http://127.0.0.1:18590/readyz >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/$1.log"; exit 1; }
    sleep 0.01
  done
  t1=$(date +%s%N)
  ready_s[$1]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) / 1e9}') "
  rss_mb[$1]+="$(($(kb "$pid" VmRSS) / 1024)) "
  printf '%-13s ready in %5.2f s, RSS %4d MB (peak %4d MB), %s\n' "$1" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) / 1e9}')" \
    $(($(kb "$pid" VmRSS) / 1024)) $(($(kb "$pid" VmHWM) / 1024)) "$(grep -m1 -o 'domains=[0-9]*' "$work/$1.log" || curl -s http://127.0.0.1:18590/metrics | awk '/^mailconf_config_providers/ {print "providers=" $2}')"
  taskset -pc "$server_cpu" "$pid" >/dev/null
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

echo "conditions: $(nproc) CPUs; loading on every CPU, then server on CPU $server_cpu, load on CPU $client_cpu; $rounds rounds of ${secs}s; dnsperf at $qps q/s"
declare -A domain
for s in $scenarios; do domain[$s]=$(gen "$s"); done
for s in $scenarios; do start "$s"; stop; done
echo "per-request CPU, rounds alternating between scenarios:"
for r in $(seq "$rounds"); do
  for s in $scenarios; do start "$s" >/dev/null; measure "$s" "${domain[$s]}"; stop; done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# Each scenario against the built-in configuration; domains100k and domains1m also
# against hosting2, when it ran.
for s in $scenarios; do
  ref=builtin
  [[ $s == domains* && " $scenarios " == *" hosting2 "* ]] && ref=hosting2
  [[ " $scenarios " == *" $ref "* ]] || ref=${scenarios%% *}
  h=$(median "${http_us[$s]}"); d=$(median "${dns_us[$s]}")
  printf '  %-13s ready in %.2f s, RSS %.0f MB (medians of %d starts)\n' "$s" "$(median "${ready_s[$s]}")" "$(median "${rss_mb[$s]}")" $((rounds + 1))
  printf '  %-13s autoconfig %6.2f us/request (%.2fx %s)   DNS %6.2f us/query (%.2fx %s)\n' "$s" "$h" \
    "$(awk -v a="$h" -v b="$(median "${http_us[$ref]}")" 'BEGIN {print a / b}')" "$ref" "$d" \
    "$(awk -v a="$d" -v b="$(median "${dns_us[$ref]}")" 'BEGIN {print a / b}')" "$ref"
done

# A refresh that changes 1% of the domains under load: nothing may fail.
if [[ " $scenarios " == *" domains100k "* ]]; then
  start domains100k >/dev/null
  d=${domain[domains100k]}
  printf '_imaps._tcp.%s SRV\n%s SOA\n' "$d" "$d" >"$work/q.txt"
  taskset -c "$client_cpu" wrk -t1 -c16 -d8s -H "Host: autoconfig.$d" http://127.0.0.1:18580/mail/config-v1.1.xml >"$work/wrk.out" &
  w=$!
  taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p 18553 -d "$work/q.txt" -l 8 -Q 5000 >"$work/dnsperf.out" 2>&1 &
  q=$!
  sleep 2
  # 1%: a hundred domains of each of the ten lists replaced by new ones.
  for p in $(seq 0 9); do
    f=$work/domains100k/domains$p.txt
    awk -v p="$p" 'NR > 9000 && NR <= 9100 {printf "new%d-%d.example\n", p, NR; next} {print}' "$f" >"$f.tmp" && mv "$f.tmp" "$f"
  done
  sleep 3
  served=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: autoconfig.new5-9050.example' http://127.0.0.1:18580/mail/config-v1.1.xml)
  wait "$w" "$q"
  echo "refresh under load: a new domain answers $served; wrk: $(awk '/requests in/ {print $1, "requests"}' "$work/wrk.out"), $(grep -c 'Non-2xx\|Socket errors' "$work/wrk.out") error lines; dnsperf: $(awk '/Queries lost:/ {print $3, "lost"}' "$work/dnsperf.out")"
  stop
fi
