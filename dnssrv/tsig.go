package dnssrv

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
)

// TSIG (RFC 8945). Requests are verified with miekg/dns (TsigVerifyWithProvider, with
// the keyring as provider); answers are packed by this package, so they are signed
// here, on the packed bytes.

// tsigFudge is the time error allowed in seconds: 300, as RFC 8945 recommends and NSD,
// Knot and miekg/dns use.
const tsigFudge = 300

// errUnknownKey is the keyring's answer for a key name or algorithm it does not hold:
// BADKEY (RFC 8945 §5.2.1).
var errUnknownKey = errors.New("dnssrv: unknown TSIG key")

// tsigKey is a configured key, ready to use.
type tsigKey struct {
	name   string // canonical: lowercase, fully qualified
	alg    string // canonical algorithm name: hmac-sha256.
	secret []byte
	hash   func() hash.Hash
}

var tsigHashes = map[mailconf.TSIGAlgorithm]func() hash.Hash{
	mailconf.HMACSHA1:   sha1.New,
	mailconf.HMACSHA224: sha256.New224,
	mailconf.HMACSHA256: sha256.New,
	mailconf.HMACSHA384: sha512.New384,
	mailconf.HMACSHA512: sha512.New,
}

// keyring holds the configured keys by name. It is the dns.TsigProvider that
// verifies requests.
type keyring map[string]*tsigKey

func newKeyring(keys []mailconf.TSIGKey) (keyring, error) {
	kr := keyring{}
	for _, k := range keys {
		h := tsigHashes[k.Algorithm]
		if h == nil || len(k.Secret) == 0 {
			return nil, fmt.Errorf("dnssrv: TSIG key %s: algorithm %q or secret missing", k.Name, k.Algorithm)
		}
		kr[k.Name.FQDN()] = &tsigKey{name: k.Name.FQDN(), alg: string(k.Algorithm) + ".", secret: k.Secret, hash: h}
	}
	return kr, nil
}

// lookup returns the key a TSIG record names, if its algorithm matches too.
func (kr keyring) lookup(t *dns.TSIG) *tsigKey {
	k := kr[dns.CanonicalName(t.Hdr.Name)]
	if k == nil || dns.CanonicalName(t.Algorithm) != k.alg {
		return nil
	}
	return k
}

// Generate computes the MAC of the digest buffer miekg/dns built (dns.TsigProvider).
func (kr keyring) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	k := kr.lookup(t)
	if k == nil {
		return nil, errUnknownKey
	}
	h := hmac.New(k.hash, k.secret)
	h.Write(msg)
	return h.Sum(nil), nil
}

// Verify checks the MAC of a request (dns.TsigProvider). A truncated MAC (RFC 8945
// §5.2.2.1) does not match: BADSIG.
func (kr keyring) Verify(msg []byte, t *dns.TSIG) error {
	want, err := kr.Generate(msg, t)
	if err != nil {
		return err
	}
	mac, err := hex.DecodeString(t.MAC)
	if err != nil || !hmac.Equal(want, mac) {
		return dns.ErrSig
	}
	return nil
}

// verify checks the TSIG of a raw request, the last record of pkt. It returns the key
// and 0, or the TSIG error to answer: BADKEY, BADSIG or BADTIME (RFC 8945 §5.2).
func (kr keyring) verify(pkt []byte, t *dns.TSIG) (*tsigKey, uint16) {
	// TsigVerifyWithProvider writes into the buffer it is given.
	err := dns.TsigVerifyWithProvider(append([]byte(nil), pkt...), kr, "", false)
	switch {
	case err == nil:
		return kr.lookup(t), 0
	case errors.Is(err, errUnknownKey), errors.Is(err, dns.ErrSecret), errors.Is(err, dns.ErrKeyAlg):
		return nil, dns.RcodeBadKey
	case errors.Is(err, dns.ErrTime):
		return kr.lookup(t), dns.RcodeBadTime
	}
	return nil, dns.RcodeBadSig
}

// signer signs the messages of one answer to a request signed with a known key: the
// first with the request's MAC and every TSIG variable, the ones after it with the
// previous MAC and the timers only (RFC 8945 §4.3.3, §5.3.1).
type signer struct {
	key     *tsigKey
	prevMAC []byte // the request's MAC, then each message's
	hasPrev bool   // false when signing a request, which has no prior MAC
	first   bool
	now     func() time.Time
	// err and timeSigned, for a BADTIME answer (RFC 8945 §5.2.3): the error, the
	// request's time, and the server's time as Other Data.
	err        uint16
	timeSigned uint64
}

func newSigner(key *tsigKey, req *dns.TSIG) (*signer, error) {
	mac, err := hex.DecodeString(req.MAC)
	if err != nil {
		return nil, fmt.Errorf("dnssrv: request MAC: %w", err)
	}
	return &signer{key: key, prevMAC: mac, hasPrev: true, first: true, now: time.Now}, nil
}

// newRequestSigner signs a request of our own, a NOTIFY (RFC 8945 §4.3.3: no prior
// MAC).
func newRequestSigner(key *tsigKey) *signer {
	return &signer{key: key, first: true, now: time.Now}
}

// overhead is the most a TSIG record adds to a message, to leave room for it.
func (s *signer) overhead() int {
	return len(s.key.name) + 1 + 10 + len(s.key.alg) + 1 + 16 + s.key.hash().Size() + 6 + 6
}

// sign appends a TSIG record to the packed message msg and returns the result.
func (s *signer) sign(msg []byte) ([]byte, error) {
	now := uint64(s.now().Unix())
	timeSigned, other := now, ""
	if s.err == dns.RcodeBadTime {
		var b [6]byte
		putUint48(b[:], now)
		timeSigned, other = s.timeSigned, hex.EncodeToString(b[:])
	}
	h := hmac.New(s.key.hash, s.key.secret)
	if s.hasPrev {
		var l [2]byte
		binary.BigEndian.PutUint16(l[:], uint16(len(s.prevMAC)))
		h.Write(l[:])
		h.Write(s.prevMAC)
	}
	h.Write(msg)
	var vars []byte
	if s.first {
		// RFC 8945 §4.3.3: name, class ANY, TTL 0, algorithm (both in canonical wire
		// form), time signed, fudge, error, other length and data.
		var err error
		if vars, err = appendName(vars, s.key.name); err != nil {
			return nil, err
		}
		vars = binary.BigEndian.AppendUint16(vars, dns.ClassANY)
		vars = binary.BigEndian.AppendUint32(vars, 0)
		if vars, err = appendName(vars, s.key.alg); err != nil {
			return nil, err
		}
		vars = appendUint48(vars, timeSigned)
		vars = binary.BigEndian.AppendUint16(vars, tsigFudge)
		vars = binary.BigEndian.AppendUint16(vars, s.err)
		vars = binary.BigEndian.AppendUint16(vars, uint16(len(other)/2))
		o, _ := hex.DecodeString(other)
		vars = append(vars, o...)
	} else {
		vars = appendUint48(vars, timeSigned)
		vars = binary.BigEndian.AppendUint16(vars, tsigFudge)
	}
	h.Write(vars)
	mac := h.Sum(nil)
	s.prevMAC, s.hasPrev, s.first = mac, true, false
	return appendTSIG(msg, &dns.TSIG{
		Hdr:       dns.RR_Header{Name: s.key.name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm: s.key.alg, TimeSigned: timeSigned, Fudge: tsigFudge,
		MACSize: uint16(len(mac)), MAC: hex.EncodeToString(mac),
		OrigId: binary.BigEndian.Uint16(msg), Error: s.err, OtherLen: uint16(len(other) / 2), OtherData: other,
	})
}

// appendUnsignedTSIG appends the TSIG record of a BADKEY or BADSIG answer, which is not
// signed (RFC 8945 §5.3.2): the request's key name and algorithm, no MAC.
func appendUnsignedTSIG(msg []byte, req *dns.TSIG, tsigErr uint16, now time.Time) ([]byte, error) {
	return appendTSIG(msg, &dns.TSIG{
		Hdr:       dns.RR_Header{Name: dns.CanonicalName(req.Hdr.Name), Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm: dns.CanonicalName(req.Algorithm), TimeSigned: uint64(now.Unix()), Fudge: tsigFudge,
		OrigId: binary.BigEndian.Uint16(msg), Error: tsigErr,
	})
}

// appendTSIG packs t after msg and counts it in the header.
func appendTSIG(msg []byte, t *dns.TSIG) ([]byte, error) {
	buf := make([]byte, dns.Len(t))
	n, err := dns.PackRR(t, buf, 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("%w: TSIG: %w", errPack, err)
	}
	out := append(msg, buf[:n]...)
	binary.BigEndian.PutUint16(out[10:], binary.BigEndian.Uint16(out[10:])+1)
	return out, nil
}

func appendName(b []byte, name string) ([]byte, error) {
	var buf [256]byte
	n, err := dns.PackDomainName(name, buf[:], 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("%w: TSIG name %q: %w", errPack, name, err)
	}
	return append(b, buf[:n]...), nil
}

func appendUint48(b []byte, v uint64) []byte {
	return append(b, byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func putUint48(b []byte, v uint64) { appendUint48(b[:0], v) }
