# Helpers of the dig batteries (.ci/dns-battery.sh, .ci/dns-services.sh): sourced,
# with D set to the dig command line. Each check counts in $checks; failures print and
# count in $fails.
fails=0 checks=0
out=

# q ARGS...: run dig, keep its output in $out with blanks squeezed.
q() { out=$("${D[@]}" "$@" 2>&1 | tr -s ' \t' '  '); desc="dig $*"; }

fail() {
	fails=$((fails + 1))
	echo "FAIL: $desc: $1"
	printf '%s\n' "$out" | sed 's/^/    /'
}

# section NAME: the records of one section of $out (ANSWER, AUTHORITY, ADDITIONAL, QUESTION).
section() { printf '%s\n' "$out" | awk -v s=";; $1 SECTION:" '$0 == s {f = 1; next} /^$/ {f = 0} f'; }
flags() { printf '%s\n' "$out" | sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p'; }

status() { checks=$((checks + 1)); printf '%s\n' "$out" | grep -q "status: $1," || fail "want status $1"; }
count() { checks=$((checks + 1)); printf '%s\n' "$out" | grep -q "[ ,]$1: $2[, ]*" || fail "want $1: $2"; }
flag() { checks=$((checks + 1)); [[ " $(flags) " == *" $1 "* ]] || fail "want flag $1"; }
noflag() { checks=$((checks + 1)); [[ " $(flags) " != *" $1 "* ]] || fail "flag $1 must not be set"; }
# has SECTION LINE: the section holds exactly this record (whitespace squeezed).
has() { checks=$((checks + 1)); section "$1" | grep -qxF "$2" || fail "want in $1: $2"; }
lines() { checks=$((checks + 1)); [[ $(section "$1" | grep -c .) == "$2" ]] || fail "want $2 records in $1"; }
contains() { checks=$((checks + 1)); printf '%s\n' "$out" | grep -qF -- "$1" || fail "want output to contain: $1"; }
lacks() { checks=$((checks + 1)); ! printf '%s\n' "$out" | grep -qF -- "$1" || fail "output must not contain: $1"; }
authoritative() { flag qr; flag aa; noflag ra; noflag rd; noflag tc; }
