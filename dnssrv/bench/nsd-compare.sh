#!/usr/bin/env bash
# Server CPU per query of mailconf's DNS server next to NSD serving the same
# records, at a fixed query rate.
#
# Installs nothing. Needs Go, taskset (util-linux), dig, and:
#   apt-get install -y nsd dnsperf
#
# Usage: dnssrv/bench/nsd-compare.sh
# Environment (defaults): QPS=40000 DURATION=20 (seconds per run) ROUNDS=2
#   SERVER_CPU=0 CLIENT_CPU=1 (taskset CPUs: servers on one, dnsperf on the other)
#   SERVER=auto|mailconf|tool: auto runs `mailconf serve -http '' -admin ''
#   -dns ...` built from ./cmd/mailconf when it builds, else a throwaway server.
#   MAILCONF_BIN=path: a built mailconf to measure instead of building one.
#
# Both serve the built-in catalog (qq.com, foxmail.com). The zone files NSD loads
# are written by dnssrv/zone from that catalog, so the records are the same. NSD
# runs with one server process, rate limiting off and minimal responses (mailconf
# never adds an authority NS RRset). CPU is utime+stime from /proc/PID/stat of
# every process of the server, read before and after each dnsperf run; runs
# alternate between the two servers. Other load on the machine distorts the
# numbers: the script prints the load average and the busiest processes.
set -euo pipefail

QPS=${QPS:-40000}
DURATION=${DURATION:-20}
ROUNDS=${ROUNDS:-2}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SERVER=${SERVER:-auto}
PORT_MAILCONF=${PORT_MAILCONF:-25353}
PORT_NSD=${PORT_NSD:-25354}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
for tool in go nsd dnsperf taskset dig; do
	command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install -y nsd dnsperf bind9-dnsutils)" >&2; exit 2; }
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

# The throwaway tool: writes the zone files; serves when SERVER=tool.
mkdir -p "$WORK/tool" "$WORK/zones"
cat >"$WORK/tool/go.mod" <<EOF
module nsdcompare

go 1.26.0

require github.com/mailconf/mailconf v0.0.0

replace github.com/mailconf/mailconf => $ROOT
EOF
cp "$ROOT/go.sum" "$WORK/tool/"
cat >"$WORK/tool/main.go" <<'EOF'
// Throwaway server for nsd-compare.sh: serves the built-in catalog, or writes its
// zones as master files.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/dnssrv"
	"github.com/mailconf/mailconf/dnssrv/zone"
)

func main() {
	addr := flag.String("dns", "127.0.0.1:5353", "listen address")
	zones := flag.String("zones", "", "write zone files to this directory and exit")
	flag.Parse()
	cat, err := mailconf.Default()
	if err != nil {
		log.Fatal(err)
	}
	if *zones != "" {
		set, err := zone.Build(cat)
		if err != nil {
			log.Fatal(err)
		}
		set.SetSerial(2026010101)
		for _, z := range set.Zones() {
			name := strings.TrimSuffix(z.Apex, ".")
			if err := os.WriteFile(filepath.Join(*zones, name+".zone"), []byte(z.Text()), 0o644); err != nil {
				log.Fatal(err)
			}
			os.Stdout.WriteString(name + "\n")
		}
		return
	}
	s, err := dnssrv.New(cat, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Start(*addr); err != nil {
		log.Fatal(err)
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
	s.Shutdown(context.Background())
}
EOF
(cd "$WORK/tool" && GOFLAGS=-mod=mod go build -o tool .)
mapfile -t ZONES < <("$WORK/tool/tool" -zones "$WORK/zones")

SERVE=("$WORK/tool/tool" -dns "127.0.0.1:$PORT_MAILCONF")
if [[ $SERVER != tool ]]; then
	if [[ -n ${MAILCONF_BIN:-} ]]; then
		SERVE=("$MAILCONF_BIN" serve -http '' -admin '' -log-level warn -dns "127.0.0.1:$PORT_MAILCONF")
	elif (cd "$ROOT" && go build -o "$WORK/mailconf" ./cmd/mailconf) 2>"$WORK/build.log"; then
		SERVE=("$WORK/mailconf" serve -http '' -admin '' -log-level warn -dns "127.0.0.1:$PORT_MAILCONF")
	elif [[ $SERVER == mailconf ]]; then
		cat "$WORK/build.log" >&2
		exit 1
	else
		echo "cmd/mailconf does not build; using the throwaway server" >&2
	fi
fi

{
	cat <<EOF
server:
	ip-address: 127.0.0.1@$PORT_NSD
	do-ip6: no
	server-count: 1
	username: ""
	chroot: ""
	zonesdir: "$WORK/zones"
	database: ""
	zonelistfile: "$WORK/zone.list"
	xfrdfile: "$WORK/xfrd.state"
	xfrdir: "$WORK"
	pidfile: "$WORK/nsd.pid"
	logfile: "$WORK/nsd.log"
	verbosity: 0
	minimal-responses: yes
	rrl-ratelimit: 0
	rrl-whitelist-ratelimit: 0
remote-control:
	control-enable: no
EOF
	for z in "${ZONES[@]}"; do printf 'zone:\n\tname: %s\n\tzonefile: %s.zone\n' "$z" "$z"; done
} >"$WORK/nsd.conf"
nsd-checkconf "$WORK/nsd.conf"

taskset -c "$SERVER_CPU" "${SERVE[@]}" 2>"$WORK/mailconf.log" &
MPID=$!
PIDS+=("$MPID")
taskset -c "$SERVER_CPU" nsd -d -c "$WORK/nsd.conf" 2>"$WORK/nsd.stderr" &
NPID=$!
PIDS+=("$NPID")

# The dnsperf queries: the three QQ SRV names, an NXDOMAIN and the empty
# non-terminal.
printf '_imaps._tcp.qq.com SRV\n_pop3s._tcp.qq.com SRV\n_submissions._tcp.qq.com SRV\nnope.qq.com A\n_tcp.qq.com SRV\n' >"$WORK/q.txt"

# Wait for both, then check that they give the same answers.
for port in "$PORT_MAILCONF" "$PORT_NSD"; do
	for _ in $(seq 50); do
		dig @127.0.0.1 -p "$port" +time=1 +tries=1 qq.com SOA >/dev/null 2>&1 && break
		sleep 0.2
	done
done
answers() {
	while read -r name type; do
		dig @127.0.0.1 -p "$1" +norec +nocookie +noedns "$name" "$type" |
			awk '/status:/ {print $6} /^;; flags:/ {print $3, $4} !/^;/ && NF {print $1, $2, $3, $4, $5, $6, $7, $8}' |
			sed 's/ [0-9]\{6,\} / SERIAL /'
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

declare -A CPU_US
run() { # run NAME PORT PID: one measured dnsperf run
	local name=$1 port=$2 pid=$3 before after completed lost
	taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$WORK/q.txt" -l 2 -Q "$QPS" >/dev/null 2>&1 # warm-up
	before=$(ticks "$pid")
	taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$WORK/q.txt" -l "$DURATION" -Q "$QPS" >"$WORK/perf.out" 2>&1
	after=$(ticks "$pid")
	completed=$(awk '/Queries completed:/ {print $3}' "$WORK/perf.out")
	lost=$(awk '/Queries lost:/ {print $3}' "$WORK/perf.out")
	local qps
	qps=$(awk '/Queries per second:/ {print $4}' "$WORK/perf.out")
	local us
	us=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="$completed" 'BEGIN {printf "%.3f", t / hz * 1e6 / n}')
	printf '%-9s round %d: %8s queries (%s lost, %s q/s), server CPU %6.2f s = %s us/query\n' \
		"$name" "$round" "$completed" "$lost" "$qps" "$(awk -v t=$((after - before)) -v hz="$HZ" 'BEGIN {print t / hz}')" "$us"
	CPU_US[$name]="${CPU_US[$name]:-} $us"
}

echo "conditions: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), servers on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU"
echo "            $QPS q/s for ${DURATION}s per run, $ROUNDS rounds; mailconf: ${SERVE[0]##*/}; $(nsd -v 2>&1 | head -1); $(dnsperf -h 2>&1 | grep -m1 -o 'version [0-9.]*' || true)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
	run mailconf "$PORT_MAILCONF" "$MPID"
	run nsd "$PORT_NSD" "$NPID"
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "busiest processes at the end:"
ps -eo pcpu,pid,comm --sort=-pcpu | head -6 | sed 's/^/    /'

mean() { awk '{s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.3f", s / NF}' <<<"$1"; }
m=$(mean "${CPU_US[mailconf]}")
n=$(mean "${CPU_US[nsd]}")
echo "mean server CPU per query: mailconf $m us, NSD $n us: mailconf/NSD = $(awk -v m="$m" -v n="$n" 'BEGIN {printf "%.2f", m / n}')x (target <= 1.0x)"
