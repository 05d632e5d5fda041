//go:build !linux

package dnssrv

import (
	"errors"
	"net"
)

// pktinfoSupported is false where replyOOB is not implemented: bind the server to
// a specific address on hosts with several.
const pktinfoSupported = false

// msgTrunc is not reported here; an over-long query is read cut short and fails to
// parse instead.
const msgTrunc = 0

func replyOOB(in, out []byte) []byte { return nil }

// newRawBatch: raw recvmmsg and sendmmsg exist only on Linux; elsewhere the UDP
// loop uses x/net's batch calls.
func newRawBatch(conn *net.UDPConn, pktinfo bool) (batchIO, error) {
	return nil, errors.ErrUnsupported
}
