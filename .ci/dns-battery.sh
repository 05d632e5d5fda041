#!/usr/bin/env bash
# The dig/kdig battery for the behaviour in docs/dns.md, run against a running
# mailconf DNS server by independent clients. Exits non-zero on any mismatch.
#
# Usage: .ci/dns-battery.sh ADDR PORT [PROFILE]
#   PROFILE builtin (default): the server serves the built-in catalog (QQ Mail),
#     as `mailconf serve` does without -config.
#   PROFILE test: the server serves dnssrv/testdata/test.yaml; adds the checks for
#     STARTTLS, plain and not-offered services, the additional section, truncation,
#     CHAOS strings, NSID, and zone transfers, TSIG-signed queries and NOTIFY with the
#     test key (dnssrv/testdata/xfr-test.key, or TSIG_KEYFILE).
# Needs dig (bind9-dnsutils) and kdig (knot-dnsutils); dnsperf, when installed,
# adds a short load check.
set -u

ADDR=${1:?usage: $0 ADDR PORT [builtin|test]}
PORT=${2:?usage: $0 ADDR PORT [builtin|test]}
PROFILE=${3:-builtin}

case $PROFILE in
builtin) TTL=3600 W=1 NEG=300 ;;
test) TTL=7200 W=5 NEG=600 ;;
*) echo "unknown profile $PROFILE" >&2; exit 2 ;;
esac

for tool in dig kdig; do
	command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install -y bind9-dnsutils knot-dnsutils" >&2; exit 2; }
done

D=(dig @"$ADDR" -p "$PORT" +norec +nocookie +time=2 +tries=1)

# Wait up to 15 seconds for the server to answer, over UDP and TCP.
for _ in $(seq 30); do
	"${D[@]}" +short qq.com SOA >/dev/null 2>&1 && "${D[@]}" +tcp +short qq.com SOA >/dev/null 2>&1 && break
	sleep 0.5
done
# shellcheck source=.ci/dns-lib.sh
. "$(dirname "$0")/dns-lib.sh"

# The apex SOA, for the serial and the negative TTL (RFC 2308 §5).
q qq.com SOA
status NOERROR; authoritative; count ANSWER 1
soa=$(section ANSWER | awk '$4 == "SOA"')
read -r _ soa_ttl _ _ soa_mname soa_rname soa_serial _ _ _ soa_min <<<"$soa"
neg_ttl=$((soa_ttl < soa_min ? soa_ttl : soa_min))
[[ $neg_ttl == "$NEG" ]] || { desc="negative TTL"; fail "min(TTL $soa_ttl, MINIMUM $soa_min) = $neg_ttl, want $NEG"; }
NEGSOA="qq.com. $neg_ttl IN SOA $soa_mname $soa_rname $soa_serial ${soa#* SOA * * * }"
NEGSOA=$(printf '%s' "$NEGSOA" | tr -s ' ')

q qq.com NS
status NOERROR; authoritative; has ANSWER "qq.com. $TTL IN NS $soa_mname"

q _imaps._tcp.qq.com SRV
status NOERROR; authoritative; count ANSWER 1; count AUTHORITY 0
has ANSWER "_imaps._tcp.qq.com. $TTL IN SRV 0 $W 993 imap.qq.com."
has QUESTION ";_imaps._tcp.qq.com. IN SRV"
imaps_udp=$(section ANSWER)

q _pop3s._tcp.qq.com SRV
status NOERROR; authoritative; has ANSWER "_pop3s._tcp.qq.com. $TTL IN SRV 10 $W 995 pop.qq.com."
q _submissions._tcp.qq.com SRV
status NOERROR; authoritative; has ANSWER "_submissions._tcp.qq.com. $TTL IN SRV 0 $W 465 smtp.qq.com."
q _imaps._tcp.foxmail.com SRV
status NOERROR; authoritative; has ANSWER "_imaps._tcp.foxmail.com. $TTL IN SRV 0 $W 993 imap.qq.com."

# 0x20: the question comes back as sent.
q _IMAPS._TCP.QQ.COM SRV
status NOERROR; authoritative; count ANSWER 1
has QUESTION ";_IMAPS._TCP.QQ.COM. IN SRV"
checks=$((checks + 1))
[[ $(section ANSWER | tr 'A-Z' 'a-z') == "$(tr 'A-Z' 'a-z' <<<"$imaps_udp")" ]] || fail "mixed case: other data than the lowercase query"

# RFC 8020: the empty non-terminal is NOERROR/NODATA, not NXDOMAIN.
q _tcp.qq.com SRV
status NOERROR; authoritative; count ANSWER 0; has AUTHORITY "$NEGSOA"

# RFC 2308 §3: NXDOMAIN and NODATA with the SOA, TTL min(TTL, MINIMUM).
q nope.qq.com A
status NXDOMAIN; authoritative; count ANSWER 0; has AUTHORITY "$NEGSOA"; lines AUTHORITY 1
q _imaps._tcp.qq.com A
status NOERROR; authoritative; count ANSWER 0; has AUTHORITY "$NEGSOA"

# Nothing is invented for a service the built-in configuration says nothing about.
if [[ $PROFILE == builtin ]]; then
	q _imap._tcp.qq.com SRV
	status NXDOMAIN; authoritative; has AUTHORITY "$NEGSOA"
fi

# Outside every zone: REFUSED, AA clear.
q example.com A
status REFUSED; noflag aa; noflag ra; count ANSWER 0; count AUTHORITY 0
q com SOA
status REFUSED; noflag aa

# RFC 8482 §4.2: ANY gets one synthesised HINFO.
q qq.com ANY
status NOERROR; authoritative; count ANSWER 1; has ANSWER "qq.com. $TTL IN HINFO \"RFC8482\" \"\""

# EDNS (RFC 6891): BADVERS with an OPT at version 0; options and unknown flags not echoed.
q +edns=1 +noednsneg qq.com SOA
status BADVERS; noflag aa; count ANSWER 0; contains "; EDNS: version: 0, flags:; udp: 1232"
q +ednsopt=100:0102 qq.com SOA
status NOERROR; authoritative; count ANSWER 1; lacks "OPT=100"; contains "; EDNS: version: 0, flags:; udp: 1232"
q +ednsflags=0x80 qq.com SOA
status NOERROR; authoritative; lacks "MBZ"
q +noedns _imaps._tcp.qq.com SRV
status NOERROR; authoritative; lacks "OPT PSEUDOSECTION"; count ADDITIONAL 0
q @"$ADDR" -p "$PORT" +norec +cookie qq.com SOA
status NOERROR; lacks "COOKIE"

# RFC 8906: other opcodes NOTIMP; no question FORMERR.
q +opcode=15 qq.com SOA
status NOTIMP; noflag aa; noflag ad
q +opcode=notify qq.com SOA # RFC 1996: mailconf is only a primary and takes no NOTIFY
status REFUSED; noflag aa
q +opcode=update qq.com SOA
status NOTIMP
q +header-only qq.com SOA
status FORMERR; noflag ad

# TC only when required data does not fit; DO copied (RFC 3225).
q +dnssec +bufsize=512 +ignore qq.com SOA
status NOERROR; authoritative; count ANSWER 1; contains "; EDNS: version: 0, flags: do; udp: 1232"

# CHAOS.
q version.bind TXT CH
if [[ $PROFILE == builtin ]]; then
	status REFUSED; noflag aa
else
	status NOERROR; flag aa; has ANSWER 'version.bind. 0 CH TXT "mailconf test"'
	q id.server TXT CH
	status NOERROR; has ANSWER 'id.server. 0 CH TXT "ns-test-1"'
fi

# TCP gives the same answer.
q +tcp _imaps._tcp.qq.com SRV
status NOERROR; authoritative
checks=$((checks + 1))
[[ $(section ANSWER) == "$imaps_udp" ]] || fail "TCP answer differs from UDP"

# No zone transfers without a key (the test configuration wants one; the built-in
# one allows no one).
q qq.com AXFR
contains "Transfer failed."
desc="kdig AXFR without a key"
out=$(kdig @"$ADDR" -p "$PORT" +time=2 +retry=0 qq.com AXFR 2>&1)
contains "server replied with error 'REFUSED'"

# RFC 7766: three queries on one TCP connection.
desc="kdig +tcp +keepopen, three queries"
out=$(kdig @"$ADDR" -p "$PORT" +tcp +keepopen +norec +time=2 +retry=0 \
	_imaps._tcp.qq.com SRV _pop3s._tcp.qq.com SRV nope.qq.com A 2>&1 | tr -s ' \t' '  ')
checks=$((checks + 1))
[[ $(printf '%s\n' "$out" | grep -o 'status: [A-Z]*' | tr '\n' ' ') == "status: NOERROR status: NOERROR status: NXDOMAIN " ]] ||
	fail "want NOERROR, NOERROR, NXDOMAIN"
checks=$((checks + 1))
[[ $(printf '%s\n' "$out" | grep -c "(TCP)") == 3 ]] || fail "want three answers over TCP"

desc="kdig +nsid"
out=$(kdig @"$ADDR" -p "$PORT" +norec +nsid +time=2 +retry=0 qq.com SOA 2>&1 | tr -s ' \t' '  ')
contains "status: NOERROR;"
if [[ $PROFILE == test ]]; then contains 'NSID: 6E732D746573742D31 "ns-test-1"'; else lacks "NSID"; fi

if [[ $PROFILE == test ]]; then
	q _imap._tcp.example.org SRV
	status NOERROR; authoritative; has ANSWER "_imap._tcp.example.org. 7200 IN SRV 0 5 143 mail.example.org."
	q _pop3._tcp.example.org SRV
	status NOERROR; authoritative; has ANSWER "_pop3._tcp.example.org. 7200 IN SRV 10 5 110 mail.example.org."
	# RFC 6186 §3.4: a service not offered is one "0 0 0 ." record, alone.
	q _imaps._tcp.example.org SRV
	status NOERROR; authoritative; lines ANSWER 1; has ANSWER "_imaps._tcp.example.org. 7200 IN SRV 0 0 0 ."
	# RFC 2782: in-zone targets' addresses in the additional section.
	q _submission._tcp.example.org SRV
	status NOERROR; authoritative; lines ANSWER 2
	has ADDITIONAL "autoconfig.example.org. 7200 IN A 192.0.2.53"
	has ADDITIONAL "autoconfig.example.org. 7200 IN AAAA 2001:db8::53"
	q _autodiscover._tcp.example.net SRV
	status NOERROR; has ANSWER "_autodiscover._tcp.example.net. 7200 IN SRV 0 0 443 autodiscover.example.org."
	has ADDITIONAL "autodiscover.example.org. 7200 IN A 192.0.2.53"
	# RFC 2181 §9: a required RRset that does not fit: TC, no partial set; full over TCP.
	q +bufsize=512 +ignore _imaps._tcp.big.example SRV
	status NOERROR; flag tc; count ANSWER 0
	q +noedns +ignore _imaps._tcp.big.example SRV
	status NOERROR; flag tc; count ANSWER 0
	q +bufsize=4096 _imaps._tcp.big.example SRV
	status NOERROR; noflag tc; count ANSWER 30
	q +bufsize=512 _imaps._tcp.big.example SRV # dig retries over TCP by itself
	status NOERROR; noflag tc; count ANSWER 30; contains "(TCP)"
fi

if [[ $PROFILE == test ]]; then
	# Zone transfers (RFC 5936, RFC 1995) and TSIG (RFC 8945) with the test key; dig and
	# kdig verify every signature.
	secret=$(grep -v '^#' "${TSIG_KEYFILE:-$(dirname "$0")/../dnssrv/testdata/xfr-test.key}")
	Y=(-y "hmac-sha256:xfr-key:$secret")
	records() { printf '%s\n' "$out" | grep -v '^;' | grep -v 'ANY TSIG' | grep .; }
	q "${Y[@]}" example.org AXFR
	contains "XFR size:"; lacks "Transfer failed"; lacks "Couldn't verify"; contains "ANY TSIG hmac-sha256."
	checks=$((checks + 1))
	[[ $(records | head -1 | cut -d' ' -f4) == SOA && $(records | tail -1 | cut -d' ' -f4) == SOA && $(records | grep -c ' SOA ') == 2 ]] ||
		fail "want the SOA first and last"
	has_record() { checks=$((checks + 1)); records | grep -qxF "$1" || fail "want record: $1"; }
	has_record "_imap._tcp.example.org. 7200 IN SRV 0 5 143 mail.example.org."
	has_record "ns1.example.org. 7200 IN A 192.0.2.53"
	axfr_records=$(records | wc -l)
	desc="kdig AXFR with the key"
	out=$(kdig @"$ADDR" -p "$PORT" +time=2 +retry=0 "${Y[@]}" big.example AXFR 2>&1 | tr -s ' \t' '  ')
	lacks ";; ERROR"; contains "(1 messages, 40 records)" # 38 records, the SOA again, the TSIG
	# IXFR: the client's serial current, the SOA alone; older, the whole zone (RFC 1995 §4).
	q "${Y[@]}" example.org IXFR="$soa_serial"
	checks=$((checks + 1))
	[[ $(records | wc -l) == 1 && $(records | cut -d' ' -f4) == SOA ]] || fail "want the SOA alone"
	q "${Y[@]}" example.org IXFR=$((soa_serial - 1))
	checks=$((checks + 1))
	[[ $(records | wc -l) == "$axfr_records" ]] || fail "want the whole zone, $axfr_records records"
	# Refused: no key (above), or from outside dns.transfer.allow; NOTAUTH: a wrong key.
	for c in "outside allow|-b 127.0.0.2 ${Y[*]}|REFUSED" "unknown key|-y hmac-sha256:other-key:$secret|BADKEY" \
		"wrong secret|-y hmac-sha256:xfr-key:$(printf '%s' "$secret" | tr 'A-Za-z' 'N-ZA-Mn-za-m')|BADSIG"; do
		IFS='|' read -r what args want <<<"$c"
		desc="kdig AXFR, $what"
		# shellcheck disable=SC2086
		out=$(kdig @"$ADDR" -p "$PORT" +time=2 +retry=0 $args qq.com AXFR 2>&1)
		contains "server replied with error '$want'"
	done
	q -y "hmac-sha256:other-key:$secret" qq.com SOA
	status NOTAUTH; contains "BADKEY"
	# Signed queries get signed answers, over UDP and TCP, truncated ones too.
	for tr in +notcp +tcp; do
		q "${Y[@]}" "$tr" _imap._tcp.example.org SRV
		status NOERROR; authoritative; lacks "Couldn't verify"; contains "ANY TSIG hmac-sha256."
		has ANSWER "_imap._tcp.example.org. 7200 IN SRV 0 5 143 mail.example.org."
	done
	q "${Y[@]}" +bufsize=512 +ignore _imaps._tcp.big.example SRV
	status NOERROR; flag tc; lacks "Couldn't verify"; contains "ANY TSIG hmac-sha256."
	# NOTIFY, signed: refused, and the refusal signed.
	q "${Y[@]}" +opcode=notify example.org SOA
	status REFUSED; lacks "Couldn't verify"; contains "ANY TSIG hmac-sha256."
fi

# Queries with records where a query carries none (NSD query.c): FORMERR, over UDP and
# TCP. dig cannot send these, so a few lines of Python build them byte by byte.
raw_rcode() { # raw_rcode TRANSPORT CASE: the rcode name of the answer, or "none"
	python3 - "$ADDR" "$PORT" "$1" "$2" <<'PY'
import socket, struct, sys
addr, port, transport, case = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
qname = b"\x02qq\x03com\x00"
a = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 0, 4) + bytes([192, 0, 2, 1])
opt = b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 0)
soa = b"\xc0\x0c" + struct.pack(">HHIH", 6, 1, 0, 22) + b"\x01a\x00\x01b\x00" + struct.pack(">IIIII", 1, 0, 0, 0, 0)
sections = {  # answer, authority, additional, qtype
    "answer": ([a], [], [], 6), "authority": ([], [a], [], 6), "opt-in-answer": ([opt], [], [], 6),
    "two-opt": ([], [], [opt, opt], 6), "a-in-additional": ([], [], [a], 6), "ixfr-soa": ([], [soa], [], 251),
}
an, ns, ar, qtype = sections[case]
msg = struct.pack(">HHHHHH", 0x4d43, 0, 1, len(an), len(ns), len(ar)) + qname + struct.pack(">HH", qtype, 1) + b"".join(an + ns + ar)
names = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
try:
    if transport == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.sendto(msg, (addr, port))
        resp = s.recv(65535)
    else:
        s = socket.create_connection((addr, port), timeout=2)
        s.sendall(struct.pack(">H", len(msg)) + msg)
        hdr = s.recv(2)
        resp = b""
        while len(resp) < struct.unpack(">H", hdr)[0]:
            resp += s.recv(65535)
    print(names.get(resp[3] & 0x0F, "other") if resp[:2] == b"\x4d\x43" else "wrong-id")
except OSError:
    print("none")
PY
}
if command -v python3 >/dev/null; then
	for transport in udp tcp; do
		for c in answer authority opt-in-answer two-opt a-in-additional ixfr-soa; do
			want=FORMERR
			[[ $c == ixfr-soa ]] && want=REFUSED # an IXFR carries its SOA there (RFC 1995 §3); transfers are refused
			checks=$((checks + 1))
			got=$(raw_rcode "$transport" "$c")
			desc="crafted query ($c, $transport)" out=""
			[[ $got == "$want" ]] || fail "got $got, want $want"
		done
	done
fi

if command -v dnsperf >/dev/null; then
	qf=$(mktemp)
	printf '_imaps._tcp.qq.com SRV\n_pop3s._tcp.qq.com SRV\n_submissions._tcp.qq.com SRV\nnope.qq.com A\n_tcp.qq.com SRV\n' >"$qf"
	for mode in udp tcp; do
		desc="dnsperf -m $mode"
		out=$(dnsperf -s "$ADDR" -p "$PORT" -d "$qf" -l 3 -c 10 -q 100 -m "$mode" 2>&1)
		contains "Queries lost:         0 "
	done
	rm -f "$qf"
fi

echo "dns battery ($PROFILE profile, $ADDR port $PORT): $checks checks, $fails failed"
[[ $fails == 0 ]]
