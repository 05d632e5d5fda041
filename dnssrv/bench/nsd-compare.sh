#!/usr/bin/env bash
# mailconf's DNS server next to NSD serving the same zones, in one run:
#
#  1. UDP: server CPU per query at a fixed rate (QPS, default 40000) with a mixed
#     query set (positive SRV, NXDOMAIN, NODATA, SOA, NS, REFUSED), the two servers
#     alternating for ROUNDS rounds. Target: mailconf <= 0.9x NSD.
#  2. TCP: queries per second over TCP_CONNS (100) connections, as fast as they
#     come. Target: mailconf >= 1.5x NSD.
#  3. Rate limiting: a flood of FLOOD_QPS (2000) queries/s from one address, one
#     query repeated as in a reflection attack (NSD counts per name, mailconf per
#     network), against both with 200 answers/s per network and slip 2: answers,
#     truncated answers and drops.
#  4. Cores: mailconf's UDP queries per second at full speed on one core and on
#     every core.
#
# Installs nothing. Needs Go, taskset (util-linux), dig, curl, and:
#   apt-get install -y nsd dnsperf
#
# Usage: dnssrv/bench/nsd-compare.sh
# Environment (defaults): QPS=40000 DURATION=20 (seconds per run) ROUNDS=5
#   SERVER_CPU=0 CLIENT_CPU=1 (taskset CPUs: servers on one, dnsperf on the other)
#   TCP_CONNS=100 FLOOD_QPS=2000
#   MAILCONF_BIN=path: a built mailconf to measure instead of building one.
# A smoke run: ROUNDS=1 DURATION=3 dnssrv/bench/nsd-compare.sh
#
# Both serve one configuration (the built-in QQ Mail provider, written below); the
# zone files NSD loads are written by dnssrv/zone from it, so the records are the
# same, and the script checks that every query of the set gets the same answer from
# both. NSD runs one server process with minimal responses (mailconf never adds an
# authority NS RRset), rate limiting off except in part 3, and room for the TCP
# connections. CPU is utime+stime from /proc/PID/stat of every process of the
# server, read before and after each dnsperf run. Other load on the machine distorts
# the numbers: the script prints the load average and the busiest processes.
set -euo pipefail

QPS=${QPS:-40000}
DURATION=${DURATION:-20}
ROUNDS=${ROUNDS:-5}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
TCP_CONNS=${TCP_CONNS:-100}
FLOOD_QPS=${FLOOD_QPS:-2000}
PORT_MAILCONF=${PORT_MAILCONF:-25353}
PORT_NSD=${PORT_NSD:-25354}
PORT_MAILCONF_RRL=${PORT_MAILCONF_RRL:-25355}
PORT_NSD_RRL=${PORT_NSD_RRL:-25356}
PORT_MAILCONF_ALL=${PORT_MAILCONF_ALL:-25357}
ADMIN_RRL=${ADMIN_RRL:-127.0.0.1:25358}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
for tool in go nsd nsd-checkconf dnsperf taskset dig curl; do
	command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install -y nsd dnsperf bind9-dnsutils curl)" >&2; exit 2; }
done
HZ=$(getconf CLK_TCK)

WORK=$(mktemp -d /tmp/nsd-compare.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# The configuration both serve: the built-in provider and name server, room for the
# TCP connections of part 2 from one address; rate limiting as configured below.
cat >"$WORK/bench.yaml" <<EOF
providers: [{builtin: qq.com}]
dns:
  nameservers: [ns1.mailconf.invalid]
  tcp_max_connections: 1024
  tcp_max_connections_per_client: $((TCP_CONNS + 16))
EOF
cp "$WORK/bench.yaml" "$WORK/rrl.yaml"
printf '  rate_limit: {responses_per_second: 200, slip: 2, exempt: []}\n' >>"$WORK/rrl.yaml"

# The zone files, written by dnssrv/zone from that configuration.
mkdir -p "$WORK/tool" "$WORK/zones"
cat >"$WORK/tool/go.mod" <<EOF
module nsdcompare

go 1.26.0

require github.com/mailconf/mailconf v0.0.0

replace github.com/mailconf/mailconf => $ROOT
EOF
cp "$ROOT/go.sum" "$WORK/tool/"
cat >"$WORK/tool/main.go" <<'EOF'
// Throwaway tool for nsd-compare.sh: writes the zones of a configuration as master
// files, one per zone, and prints their names.
package main

import (
	"flag"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/dnssrv/zone"
)

func main() {
	config := flag.String("config", "", "configuration file")
	dir := flag.String("zones", "", "directory for the zone files")
	flag.Parse()
	cat, err := mailconf.Load(*config)
	if err != nil {
		log.Fatal(err)
	}
	set, err := zone.Build(cat)
	if err != nil {
		log.Fatal(err)
	}
	set.SetSerial(2026010101)
	for _, z := range set.Zones() {
		name := strings.TrimSuffix(z.Apex, ".")
		if err := os.WriteFile(filepath.Join(*dir, name+".zone"), []byte(z.Text()), 0o644); err != nil {
			log.Fatal(err)
		}
		os.Stdout.WriteString(name + "\n")
	}
}
EOF
(cd "$WORK/tool" && GOFLAGS=-mod=mod go build -o tool .)
mapfile -t ZONES < <("$WORK/tool/tool" -config "$WORK/bench.yaml" -zones "$WORK/zones")

MAILCONF=${MAILCONF_BIN:-$WORK/mailconf}
[[ -n ${MAILCONF_BIN:-} ]] || (cd "$ROOT" && go build -o "$WORK/mailconf" ./cmd/mailconf)

# nsd_conf NAME PORT RATELIMIT: an NSD configuration in $WORK/NAME.
nsd_conf() {
	local dir=$WORK/$1
	mkdir -p "$dir"
	{
		cat <<EOF
server:
	ip-address: 127.0.0.1@$2
	do-ip6: no
	server-count: 1
	tcp-count: $((TCP_CONNS + 16))
	username: ""
	chroot: ""
	zonesdir: "$WORK/zones"
	database: ""
	zonelistfile: "$dir/zone.list"
	xfrdfile: "$dir/xfrd.state"
	xfrdir: "$dir"
	pidfile: "$dir/nsd.pid"
	logfile: "$dir/nsd.log"
	verbosity: 0
	minimal-responses: yes
	rrl-ratelimit: $3
	rrl-slip: 2
	rrl-whitelist-ratelimit: 0
remote-control:
	control-enable: no
EOF
		for z in "${ZONES[@]}"; do printf 'zone:\n\tname: %s\n\tzonefile: %s.zone\n' "$z" "$z"; done
	} >"$dir/nsd.conf"
	nsd-checkconf "$dir/nsd.conf"
}
nsd_conf nsd "$PORT_NSD" 0
nsd_conf nsd-rrl "$PORT_NSD_RRL" 200

# start CPUS NAME COMMAND...: run a server in the background on the CPUs given
# ("" for all), set $STARTED to its PID.
start() {
	local cpus=$1 name=$2
	shift 2
	if [[ -n $cpus ]]; then
		taskset -c "$cpus" "$@" >"$WORK/$name.log" 2>&1 &
	else
		"$@" >"$WORK/$name.log" 2>&1 &
	fi
	STARTED=$!
	PIDS+=("$STARTED")
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
wait_up() {
	for _ in $(seq 100); do
		dig @127.0.0.1 -p "$1" +time=1 +tries=1 qq.com SOA >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "nothing answers on port $1" >&2
	cat "$WORK"/*.log >&2
	exit 1
}
# start_mailconf CPUS NAME CONFIG ADMIN PORT
start_mailconf() {
	start "$1" "$2" "$MAILCONF" serve -config "$3" -http '' -admin "$4" -log-level warn -dns "127.0.0.1:$5"
}

start_mailconf "$SERVER_CPU" mailconf "$WORK/bench.yaml" '' "$PORT_MAILCONF"
MPID=$STARTED
start "$SERVER_CPU" nsd nsd -d -c "$WORK/nsd/nsd.conf"
NPID=$STARTED
wait_up "$PORT_MAILCONF"
wait_up "$PORT_NSD"

# The mixed query set: positive SRV (three), NXDOMAIN (two), NODATA (an empty
# non-terminal and a type the name lacks), SOA, NS, REFUSED (outside every zone).
cat >"$WORK/q.txt" <<'EOF'
_imaps._tcp.qq.com SRV
_pop3s._tcp.qq.com SRV
_submissions._tcp.foxmail.com SRV
nope.qq.com A
_imap._tcp.foxmail.com SRV
_tcp.qq.com SRV
_imaps._tcp.qq.com A
qq.com SOA
foxmail.com NS
example.com A
EOF
# Same answers from both, query by query (the serial and the order of records aside).
answers() {
	while read -r name type; do
		echo "== $name $type"
		dig @127.0.0.1 -p "$1" +norec +nocookie +noedns "$name" "$type" |
			awk '/status:/ {print $6} /^;; flags:/ {print $3, $4} !/^;/ && NF {print $1, $2, $3, $4, $5, $6, $7, $8}' |
			sed 's/ [0-9]\{6,\} / SERIAL /' | sort
	done <"$WORK/q.txt"
}
if ! diff <(answers "$PORT_MAILCONF") <(answers "$PORT_NSD") >"$WORK/diff"; then
	echo "mailconf and NSD answer differently:" >&2
	cat "$WORK/diff" >&2
	exit 1
fi

# ticks PID: utime+stime of PID and its descendants, in clock ticks.
ticks() {
	local total=0 p
	for p in $(descendants "$1"); do
		[[ -r /proc/$p/stat ]] || continue
		total=$((total + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
	done
	echo "$total"
}
descendants() {
	echo "$1"
	local c
	for c in $(pgrep -P "$1" || true); do descendants "$c"; done
}
perf() { taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -d "$WORK/q.txt" "$@"; }
completed() { awk '/Queries completed:/ {print $3}' "$1"; }
lost() { awk '/Queries lost:/ {print $3}' "$1"; }
rate() { awk '/Queries per second:/ {print $4}' "$1"; }

echo "conditions: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), servers on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU"
echo "            ${DURATION}s per run, $ROUNDS rounds; $(nsd -v 2>&1 | head -1); $(dnsperf -h 2>&1 | grep -m1 -o 'Version [0-9.]*' || true)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. UDP CPU per query at a fixed rate.
declare -A CPU_US TCP_QPS
udp_run() { # udp_run NAME PORT PID
	local name=$1 port=$2 pid=$3 before after us
	perf -p "$port" -l 2 -Q "$QPS" >/dev/null 2>&1 # warm-up
	before=$(ticks "$pid")
	perf -p "$port" -l "$DURATION" -Q "$QPS" >"$WORK/perf.out" 2>&1
	after=$(ticks "$pid")
	us=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="$(completed "$WORK/perf.out")" 'BEGIN {printf "%.3f", t / hz * 1e6 / n}')
	printf '  udp  %-9s round %d: %8s queries (%s lost, %s q/s), server CPU %6.2f s = %s us/query\n' \
		"$name" "$round" "$(completed "$WORK/perf.out")" "$(lost "$WORK/perf.out")" "$(rate "$WORK/perf.out")" \
		"$(awk -v t=$((after - before)) -v hz="$HZ" 'BEGIN {print t / hz}')" "$us"
	CPU_US[$name]="${CPU_US[$name]:-} $us"
}
# 2. TCP queries per second over many connections, as fast as they go.
tcp_run() { # tcp_run NAME PORT
	perf -p "$2" -m tcp -c "$TCP_CONNS" -q $((TCP_CONNS * 4)) -l "$DURATION" >"$WORK/perf.out" 2>&1
	printf '  tcp  %-9s round %d: %8s queries (%s lost) over %d connections: %s q/s\n' \
		"$1" "$round" "$(completed "$WORK/perf.out")" "$(lost "$WORK/perf.out")" "$TCP_CONNS" "$(rate "$WORK/perf.out")"
	TCP_QPS[$1]="${TCP_QPS[$1]:-} $(rate "$WORK/perf.out")"
}
echo "1, 2. UDP at $QPS q/s and TCP over $TCP_CONNS connections, alternating:"
for round in $(seq "$ROUNDS"); do
	udp_run mailconf "$PORT_MAILCONF" "$MPID"
	udp_run nsd "$PORT_NSD" "$NPID"
	tcp_run mailconf "$PORT_MAILCONF"
	tcp_run nsd "$PORT_NSD"
done

# 3. A flood from one address with rate limiting on.
echo "3. rate limiting, 200 answers/s per network, slip 2; $FLOOD_QPS q/s from 127.0.0.1 for ${DURATION}s:"
start_mailconf "$SERVER_CPU" mailconf-rrl "$WORK/rrl.yaml" "$ADMIN_RRL" "$PORT_MAILCONF_RRL"
MRPID=$STARTED
start "$SERVER_CPU" nsd-rrl nsd -d -c "$WORK/nsd-rrl/nsd.conf"
NRPID=$STARTED
wait_up "$PORT_MAILCONF_RRL"
wait_up "$PORT_NSD_RRL"
sleep 1.1 # a fresh second for both budgets
echo '_imaps._tcp.qq.com SRV' >"$WORK/flood.txt"
for s in "mailconf $PORT_MAILCONF_RRL" "nsd $PORT_NSD_RRL"; do
	read -r name port <<<"$s"
	# Room for a second of unanswered queries, so drops do not slow the flood.
	taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -d "$WORK/flood.txt" -p "$port" -l "$DURATION" -Q "$FLOOD_QPS" \
		-q $((FLOOD_QPS * 2)) -t 1 >"$WORK/perf.out" 2>&1
	printf '  %-9s %8s sent, %8s answered (%s/s; full or truncated), %8s not answered\n' "$name" \
		"$(awk '/Queries sent:/ {print $3}' "$WORK/perf.out")" "$(completed "$WORK/perf.out")" "$(rate "$WORK/perf.out")" "$(lost "$WORK/perf.out")"
done
curl -s "http://$ADMIN_RRL/metrics" | awk '/^mailconf_dns_rate_limited_total/ {printf "  mailconf %s\n", $0}'
echo "  expected with the budget and slip 2: about $((200 * DURATION)) full answers, half of the other $(((FLOOD_QPS - 200) * DURATION)) truncated, half dropped"
stop "$MRPID"
stop "$NRPID"

# 4. mailconf on one core and on every core, UDP as fast as it goes.
echo "4. mailconf UDP queries/s at full speed, dnsperf on CPU $CLIENT_CPU with 16 sockets:"
start_mailconf "" mailconf-all "$WORK/bench.yaml" '' "$PORT_MAILCONF_ALL"
MAPID=$STARTED
wait_up "$PORT_MAILCONF_ALL"
for s in "1 $PORT_MAILCONF" "$(nproc) $PORT_MAILCONF_ALL"; do
	read -r cores port <<<"$s"
	perf -p "$port" -c 16 -q 500 -l "$DURATION" >"$WORK/perf.out" 2>&1
	printf '  %d core(s): %s q/s (%s lost)\n' "$cores" "$(rate "$WORK/perf.out")" "$(lost "$WORK/perf.out")"
done
echo "  (the client shares the machine: on $(nproc) CPUs, the all-cores figure is bounded by dnsperf's own CPU)"
stop "$MAPID"

echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "busiest processes at the end:"
ps -eo pcpu,pid,comm --sort=-pcpu | head -6 | sed 's/^/    /'

mean() { awk '{s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.3f", s / NF}' <<<"$1"; }
m=$(mean "${CPU_US[mailconf]}")
n=$(mean "${CPU_US[nsd]}")
echo "summary:"
echo "  UDP server CPU per query, mean of $ROUNDS: mailconf $m us, NSD $n us: mailconf/NSD = $(awk -v m="$m" -v n="$n" 'BEGIN {printf "%.2f", m / n}')x (target <= 0.9x)"
m=$(mean "${TCP_QPS[mailconf]}")
n=$(mean "${TCP_QPS[nsd]}")
echo "  TCP queries/s over $TCP_CONNS connections, mean of $ROUNDS: mailconf $m, NSD $n: mailconf/NSD = $(awk -v m="$m" -v n="$n" 'BEGIN {printf "%.2f", m / n}')x (target >= 1.5x)"
