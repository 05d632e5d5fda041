#!/usr/bin/env bash
# Side by side: mailconf and a tuned nginx serving the very same bytes, for the three
# requests mail clients send most:
#   autoconfig-email  GET /mail/config-v1.1.xml?emailaddress=alice%40qq.com
#   autoconfig-host   GET /mail/config-v1.1.xml (domain from the Host header)
#   pox               POST /autodiscover/autodiscover.xml, Outlook's request for alice@qq.com
# nginx serves the autoconfig file statically (sendfile, tcp_nopush, open_file_cache)
# and answers the POST with `return 200` and the same body; the bytes are compared
# with cmp first. Both log every request (nginx's access log, mailconf's request log)
# unless NGINX_LOG=off, which turns nginx's off only.
#
# Servers share one CPU, wrk runs on another (taskset). Rounds alternate between the
# servers, every other round in reverse order; the script prints per round and the
# medians: requests/s, server CPU per request (utime+stime of the server's processes over
# the requests wrk completed; steal time on a shared machine does not count), wrk's p99
# latency, and the median of each round's CPU ratio to nginx (robust against the machine
# slowing down between rounds).
#
# Needs: apt-get install -y wrk nginx-light curl
# Usage: bench/nginx-compare.sh [seconds] [connections]
# Environment: ROUNDS=5 SERVER_CPU=0 CLIENT_CPU=1 REQUESTS="autoconfig-email autoconfig-host pox"
#   NGINX_LOG=on|off  MAILCONF_BIN="path ..." (one or more built binaries, compared with
#   each other and nginx; default: build ./cmd/mailconf)  FLOOR=on|off (the two floors
#   below, plain net/http and a hand-written HTTP/1.1 loop; needs the go tool)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
rounds=${ROUNDS:-5}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
requests=${REQUESTS:-autoconfig-email autoconfig-host pox}
nginx_log=${NGINX_LOG:-on}
for tool in wrk nginx taskset curl cmp; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y wrk nginx-light curl)"; exit 1; }
done
hz=$(getconf CLK_TCK)

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
  sleep 0.2
  rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work" # nginx workers run as another user

# The mailconf binaries: name -> path.
declare -a names=() bins=()
if [ -n "${MAILCONF_BIN:-}" ]; then
  for b in $MAILCONF_BIN; do names+=("mc:$(basename "$b")"); bins+=("$b"); done
else
  go build -o "$work/mailconf" ./cmd/mailconf
  names+=("mailconf"); bins+=("$work/mailconf")
fi

port=18480
declare -A ports pid_of
for i in "${!bins[@]}"; do
  ports[${names[$i]}]=$port
  taskset -c "$server_cpu" "${bins[$i]}" serve -http "127.0.0.1:$port" -dns '' -admin '' 2>"$work/mailconf-$i.log" &
  pids+=($!)
  pid_of[${names[$i]}]=$!
  port=$((port + 1))
done
ng_port=$port
ports[nginx]=$ng_port
for i in "${!bins[@]}"; do
  for _ in $(seq 100); do grep -q msg=listening "$work/mailconf-$i.log" 2>/dev/null && break; sleep 0.05; done
done

# The bytes nginx serves, taken from the first mailconf.
first=${ports[${names[0]}]}
mkdir -p "$work/www/mail"
curl -sf -H 'Host: autoconfig.qq.com' "http://127.0.0.1:$first/mail/config-v1.1.xml" >"$work/www/mail/config-v1.1.xml"
pox_req='<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@qq.com</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>'
printf '%s' "$pox_req" >"$work/pox-request.xml"
curl -sf -X POST -H 'Content-Type: text/xml; charset=utf-8' --data-binary @"$work/pox-request.xml" "http://127.0.0.1:$first/autodiscover/autodiscover.xml" >"$work/pox-response.xml"
grep -q "['\\]" "$work/pox-response.xml" && { echo "the POX answer holds a quote or backslash nginx's config would read"; exit 1; }
pox_body=$(cat "$work/pox-response.xml"; echo x) # keeps the final newline
pox_body=${pox_body%x}

access_log="access_log $work/nginx-access.log;"
[ "$nginx_log" = off ] && access_log="access_log off;"
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
daemon on;
events { worker_connections 1024; }
http {
  $access_log
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  open_file_cache max=100 inactive=60s;
  open_file_cache_valid 60s;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$ng_port;
    root $work/www;
    location = /mail/config-v1.1.xml { default_type "text/xml; charset=utf-8"; add_header Cache-Control no-cache; }
    location = /autodiscover/autodiscover.xml {
      default_type "text/xml; charset=utf-8";
      add_header Cache-Control no-store;
      return 200 '$pox_body';
    }
  }
}
CONF
taskset -c "$server_cpu" nginx -c "$work/nginx.conf" -e "$work/nginx-error.log"
sleep 0.3
pid_of[nginx]=$(cat "$work/nginx.pid")

# The floor: a plain net/http server (standard library only, mailconf's timeouts) that
# writes the same bytes with the same headers and nothing else: no router, log, metrics or
# connection caps. What mailconf costs above it is mailconf's own; what it costs above
# nginx is net/http's and the Go runtime's.
if [ "${FLOOR:-on}" = on ]; then
  mkdir -p "$work/floor"
  cat >"$work/floor/main.go" <<'GO'
package main

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	config, _ := os.ReadFile(os.Args[2])
	pox, _ := os.ReadFile(os.Args[3])
	xml := []string{"text/xml; charset=utf-8"}
	serve := func(body []byte, cache string) http.HandlerFunc {
		length, cc := []string{strconv.Itoa(len(body))}, []string{cache}
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			h := w.Header()
			h["Content-Type"], h["Cache-Control"], h["Content-Length"] = xml, cc, length
			_, _ = w.Write(body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/mail/config-v1.1.xml", serve(config, "no-cache"))
	mux.Handle("/autodiscover/autodiscover.xml", serve(pox, "no-store"))
	srv := &http.Server{Addr: os.Args[1], Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 20 * time.Second, WriteTimeout: 20 * time.Second, IdleTimeout: 120 * time.Second}
	panic(srv.ListenAndServe())
}
GO
  printf 'module floor\n\ngo 1.22\n' >"$work/floor/go.mod"
  (cd "$work/floor" && go build -o floor .)
  port=$((ng_port + 1))
  taskset -c "$server_cpu" "$work/floor/floor" "127.0.0.1:$port" "$work/www/mail/config-v1.1.xml" "$work/pox-response.xml" 2>"$work/floor.log" &
  pids+=($!)
  names+=("net/http-floor"); ports[net/http-floor]=$port; pid_of[net/http-floor]=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/mail/config-v1.1.xml" && break; sleep 0.05; done

  # The floor under net/http: a hand-written HTTP/1.1 loop on the Go runtime (a goroutine
  # per connection, one read and one write per request, headers prepared but for Date).
  # It understands only what wrk sends; it measures what Go itself costs, not a server.
  mkdir -p "$work/rawfloor"
  cat >"$work/rawfloor/main.go" <<'GO'
package main

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

var date atomic.Pointer[[]byte]

func setDate() {
	d := []byte(time.Now().UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	date.Store(&d)
}

func response(body []byte, cache string) (head, tail []byte) {
	head = []byte("HTTP/1.1 200 OK\r\nCache-Control: " + cache +
		"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nContent-Type: text/xml; charset=utf-8\r\nDate: ")
	return head, append([]byte("\r\n\r\n"), body...)
}

func main() {
	config, _ := os.ReadFile(os.Args[2])
	pox, _ := os.ReadFile(os.Args[3])
	getHead, getTail := response(config, "no-cache")
	postHead, postTail := response(pox, "no-store")
	setDate()
	go func() {
		for range time.Tick(time.Second) {
			setDate()
		}
	}()
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		panic(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			panic(err)
		}
		go func(c net.Conn) {
			defer c.Close()
			r := bufio.NewReaderSize(c, 4096)
			out := make([]byte, 0, 4096)
			for {
				line, err := r.ReadSlice('\n')
				if err != nil {
					return
				}
				post := bytes.HasPrefix(line, []byte("POST "))
				length := 0
				for {
					h, err := r.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(h) <= 2 {
						break
					}
					if k, v, ok := bytes.Cut(h, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
						length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
					}
				}
				if _, err := r.Discard(length); err != nil {
					return
				}
				head, tail := getHead, getTail
				if post {
					head, tail = postHead, postTail
				}
				out = append(append(append(out[:0], head...), *date.Load()...), tail...)
				if _, err := c.Write(out); err != nil {
					return
				}
			}
		}(c)
	}
}
GO
  printf 'module rawfloor\n\ngo 1.22\n' >"$work/rawfloor/go.mod"
  (cd "$work/rawfloor" && go build -o rawfloor .)
  port=$((port + 1))
  taskset -c "$server_cpu" "$work/rawfloor/rawfloor" "127.0.0.1:$port" "$work/www/mail/config-v1.1.xml" "$work/pox-response.xml" 2>"$work/rawfloor.log" &
  pids+=($!)
  names+=("raw-go-floor"); ports[raw-go-floor]=$port; pid_of[raw-go-floor]=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/mail/config-v1.1.xml" && break; sleep 0.05; done
fi

# Same bytes from every server.
for n in "${names[@]}" nginx; do
  p=${ports[$n]}
  cmp <(curl -sf -H 'Host: autoconfig.qq.com' "http://127.0.0.1:$p/mail/config-v1.1.xml?emailaddress=alice%40qq.com") "$work/www/mail/config-v1.1.xml"
  cmp <(curl -sf -H 'Host: autoconfig.qq.com' "http://127.0.0.1:$p/mail/config-v1.1.xml") "$work/www/mail/config-v1.1.xml"
  cmp <(curl -sf -X POST -H 'Content-Type: text/xml; charset=utf-8' --data-binary @"$work/pox-request.xml" "http://127.0.0.1:$p/autodiscover/autodiscover.xml") "$work/pox-response.xml"
done
echo "same bytes from every server: $(wc -c <"$work/www/mail/config-v1.1.xml") (autoconfig), $(wc -c <"$work/pox-response.xml") (POX)"

cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
local f = io.open("$work/pox-request.xml", "rb")
wrk.body = f:read("*a")
f:close()
LUA

ticks() { # utime+stime of PID and its children, in clock ticks
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    [ -r "/proc/$p/stat" ] || continue
    total=$((total + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
  done
  echo "$total"
}
target() { # target REQUEST PORT: sets args, the wrk arguments. wrk reads a header only
  # with a space after the colon ("Host:x" would go out beside its own Host).
  case $1 in
    autoconfig-email) args=(-H "Host: autoconfig.qq.com" "http://127.0.0.1:$2/mail/config-v1.1.xml?emailaddress=alice%40qq.com") ;;
    autoconfig-host) args=(-H "Host: autoconfig.qq.com" "http://127.0.0.1:$2/mail/config-v1.1.xml") ;;
    pox) args=(-s "$work/post.lua" "http://127.0.0.1:$2/autodiscover/autodiscover.xml") ;;
  esac
}
declare -a args
declare -A rps cpu p99 last_cpu ratio floor_ratio
measure() { # measure REQUEST SERVER [quiet]
  local req=$1 srv=$2 before after out n r us lat
  before=$(ticks "${pid_of[$srv]}")
  target "$req" "${ports[$srv]}"
  out=$(taskset -c "$client_cpu" wrk -t1 -c"$conns" -d"${secs}s" --latency "${args[@]}")
  after=$(ticks "${pid_of[$srv]}")
  [ "${3:-}" = quiet ] && return
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  r=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  lat=$(awk '$1 == "99%" {v = $2; if (v ~ /us$/) {sub(/us/, "", v); v /= 1000} else if (v ~ /ms$/) {sub(/ms/, "", v)} else if (v ~ /s$/) {sub(/s/, "", v); v *= 1000}; print v}' <<<"$out")
  us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$n" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
  errs=$(awk '/Non-2xx/' <<<"$out")
  if [ -n "$errs" ]; then echo "    $srv failed: $errs"; exit 1; fi
  errs=$(awk '/Socket errors/' <<<"$out")
  [ -n "$errs" ] && echo "    $srv: $errs"
  printf '    %-18s %9.0f req/s  %6s us CPU/req  p99 %6.2f ms\n' "$srv" "$r" "$us" "$lat"
  rps[$req,$srv]+="$r "
  cpu[$req,$srv]+="$us "
  last_cpu[$srv]=$us
  p99[$req,$srv]+="$lat "
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "conditions: $(nproc) CPUs, servers on CPU $server_cpu, wrk on CPU $client_cpu, -c$conns, ${secs}s x $rounds rounds, nginx access log $nginx_log; $(nginx -v 2>&1)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for req in $requests; do
  echo "== $req"
  for srv in "${names[@]}" nginx; do measure "$req" "$srv" quiet; done # warm up
  for round in $(seq "$rounds"); do
    echo "  round $round"
    order=("${names[@]}" nginx)
    if [ $((round % 2)) = 0 ]; then # every other round backwards, so drift hits both sides
      order=(nginx); for ((i = ${#names[@]} - 1; i >= 0; i--)); do order+=("${names[$i]}"); done
    fi
    for srv in "${order[@]}"; do measure "$req" "$srv"; done
    for srv in "${names[@]}"; do # nginx's CPU per request over this server's, this round
      ratio[$req,$srv]+="$(awk -v a="${last_cpu[$srv]}" -v b="${last_cpu[nginx]}" 'BEGIN {print b / a}') "
      if [ -n "${last_cpu[net/http-floor]:-}" ]; then # and over the net/http floor's
        floor_ratio[$req,$srv]+="$(awk -v a="${last_cpu[$srv]}" -v b="${last_cpu[net/http-floor]}" 'BEGIN {print a / b}') "
      fi
    done
  done
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"

echo
printf '%-17s %-18s %10s %10s %8s %10s %10s %12s %12s %12s\n' request server 'req/s' 'CPU us/req' 'p99 ms' 'rps/nginx' 'p99/nginx' 'nginx/CPU' 'CPU/net-http' 'p99/net-http'
for req in $requests; do
  ng_r=$(median "${rps[$req,nginx]}"); ng_l=$(median "${p99[$req,nginx]}")
  fl_l=""
  [ -n "${p99[$req,net/http-floor]:-}" ] && fl_l=$(median "${p99[$req,net/http-floor]}")
  for srv in "${names[@]}" nginx; do
    r=$(median "${rps[$req,$srv]}"); c=$(median "${cpu[$req,$srv]}"); l=$(median "${p99[$req,$srv]}")
    q=1
    [ "$srv" = nginx ] || q=$(median "${ratio[$req,$srv]}")
    fq=-; fl=-
    if [ -n "$fl_l" ] && [ "$srv" != nginx ]; then
      fq=$(median "${floor_ratio[$req,$srv]}"); fl=$(awk -v a="$l" -v b="$fl_l" 'BEGIN {printf "%.3f", a / b}')
    fi
    printf '%-17s %-18s %10.0f %10.2f %8.2f %10.3f %10.3f %12.3f %12s %12s\n' "$req" "$srv" "$r" "$c" "$l" \
      "$(awk -v a="$r" -v b="$ng_r" 'BEGIN {print a / b}')" "$(awk -v a="$l" -v b="$ng_l" 'BEGIN {print a / b}')" "$q" "$fq" "$fl"
  done
done
echo "(medians over the rounds. rps/nginx: throughput ratio; p99/nginx: p99 latency ratio;"
echo " nginx/CPU: nginx's CPU per request over this server's in the same round, >1 means cheaper than nginx;"
echo " CPU/net-http: this server's CPU per request over the net/http floor's in the same round, <1 is cheaper;"
echo " p99/net-http: p99 latency over the net/http floor's)"
