//go:build !linux

package dnssrv

import "net"

// listenGroup binds one UDP socket and one TCP listener: SO_REUSEPORT does not spread
// the load the same way outside Linux, so the workers share the socket instead.
func listenGroup(host, port string, n int) ([]*net.UDPConn, []net.Listener, error) {
	uc, ln, err := listenBoth(host, port)
	if err != nil {
		return nil, nil, err
	}
	return []*net.UDPConn{uc}, []net.Listener{ln}, nil
}
