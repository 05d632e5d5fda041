#!/usr/bin/env bash
# The dig/kdig checks of the calendar, contacts and MTA-STS records (docs/dns.md,
# RFC 6764, RFC 8461, RFC 8460), against a mailconf DNS server serving
# dnssrv/testdata/shapes.yaml, in whole zones and in _tcp zones.
#
# Usage: .ci/dns-services.sh ADDR PORT [zones|tcp]
set -u
ADDR=${1:?usage: $0 ADDR PORT [zones|tcp]}
PORT=${2:?usage: $0 ADDR PORT [zones|tcp]}
MODE=${3:-zones}
D=(dig @"$ADDR" -p "$PORT" +norec +nocookie +time=2 +tries=1)
# shellcheck source=.ci/dns-lib.sh
. "$(dirname "$0")/dns-lib.sh"
for _ in $(seq 30); do
	"${D[@]}" +short _imaps._tcp.a.com SRV >/dev/null 2>&1 && break
	sleep 0.5
done

# RFC 6764 §3, §4: the TLS service with its context path; "not offered" for plain HTTP.
q _caldavs._tcp.a.com SRV
status NOERROR; authoritative; has ANSWER "_caldavs._tcp.a.com. 3600 IN SRV 0 1 443 dav.hoster.net."
q _caldavs._tcp.a.com TXT
status NOERROR; authoritative; has ANSWER '_caldavs._tcp.a.com. 3600 IN TXT "path=/dav/"'
q _caldav._tcp.a.com SRV
status NOERROR; authoritative; has ANSWER "_caldav._tcp.a.com. 3600 IN SRV 0 0 0 ."
q _caldav._tcp.a.com TXT
status NOERROR; authoritative; count ANSWER 0
# Contacts are offered over plain HTTP only: the other way round.
q _carddav._tcp.x.net SRV
status NOERROR; has ANSWER "_carddav._tcp.x.net. 3600 IN SRV 0 1 8080 dav.hoster.com."
q _carddav._tcp.x.net TXT
has ANSWER '_carddav._tcp.x.net. 3600 IN TXT "path=/card/"'
q _carddavs._tcp.x.net SRV
has ANSWER "_carddavs._tcp.x.net. 3600 IN SRV 0 0 0 ."
# Per-domain host names in SRV targets, for any domain of the provider.
q +tcp _imaps._tcp.deep.sub.customer.org SRV
status NOERROR; authoritative; has ANSWER "_imaps._tcp.deep.sub.customer.org. 3600 IN SRV 0 1 993 imap.deep.sub.customer.org."
desc="kdig _submissions._tcp.mail.qq.com SRV"
out=$(kdig @"$ADDR" -p "$PORT" +norec +time=2 +retry=0 _submissions._tcp.mail.qq.com SRV 2>&1 | tr -s ' \t' '  ')
contains "_submissions._tcp.mail.qq.com. 3600 IN SRV 0 1 465 mail.qq.com."

if [[ $MODE == zones ]]; then
	# RFC 8461 §3.1: v=STSv1 first, an id of 1 to 32 letters and digits.
	q _mta-sts.customer.com TXT
	status NOERROR; authoritative; count ANSWER 1
	checks=$((checks + 1))
	section ANSWER | grep -Eq '^_mta-sts\.customer\.com\. 3600 IN TXT "v=STSv1; id=[A-Za-z0-9]{1,32}"$' || fail "want v=STSv1; id=<1 to 32 letters and digits>"
	id=$(section ANSWER | sed 's/.*id=\([A-Za-z0-9]*\).*/\1/')
	# The same policy, the same id, in every domain of the provider.
	q _mta-sts.y.org TXT
	has ANSWER "_mta-sts.y.org. 3600 IN TXT \"v=STSv1; id=$id\""
	# RFC 8460 §3.
	q _smtp._tls.customer.com TXT
	status NOERROR; authoritative; has ANSWER '_smtp._tls.customer.com. 3600 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@hoster.example"'
	q mta-sts.customer.com A
	status NOERROR; authoritative; has ANSWER "mta-sts.customer.com. 3600 IN A 192.0.2.53"
	q mta-sts.customer.com AAAA
	has ANSWER "mta-sts.customer.com. 3600 IN AAAA 2001:db8::53"
	# No policy, no records: qq.com (built in) has none.
	q _mta-sts.qq.com TXT
	status NXDOMAIN; authoritative
	q mta-sts.qq.com A
	status NXDOMAIN
else
	# _tcp zones: the apex is _tcp.<d>; MTA-STS lies outside.
	q _tcp.a.com SOA
	status NOERROR; authoritative; count ANSWER 1
	q _caldavs._tcp.a.com TXT
	status NOERROR; has ANSWER '_caldavs._tcp.a.com. 3600 IN TXT "path=/dav/"'
	q _mta-sts.a.com TXT
	status REFUSED; noflag aa
fi

# A zone transfer would show them all; transfers are not configured here.
desc="kdig AXFR a.com"
out=$(kdig @"$ADDR" -p "$PORT" +time=2 +retry=0 a.com AXFR 2>&1)
contains "REFUSED"

echo "dns services battery ($MODE, $ADDR port $PORT): $checks checks, $fails failed"
[[ $fails == 0 ]]
