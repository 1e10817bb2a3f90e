// Package netguard refuses connections to loopback, private, link-local,
// multicast and cloud-metadata addresses after DNS resolution, so that a
// proxied name that resolves to an internal address cannot be used to reach
// it (server-side request forgery).
//
// The check runs in net.Dialer.Control, on the address actually dialed, so
// a DNS answer that changes between a check and the dial cannot slip through.
package netguard

import (
	"fmt"
	"net/netip"
	"syscall"
)

// DeniedError reports a refused destination.
type DeniedError struct {
	Addr netip.Addr
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("destination %s is a private or reserved address (set allow_private_network: true to allow it)", e.Addr)
}

// denied lists the ranges refused in addition to what netip classifies as
// loopback, private, link-local, multicast or unspecified.
var denied = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),         // "this" network
	netip.MustParsePrefix("100.64.0.0/10"),     // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),      // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),     // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),       // reserved
	netip.MustParsePrefix("64:ff9b::/96"),      // NAT64, may map to private v4
	netip.MustParsePrefix("fd00:ec2::254/128"), // AWS metadata over IPv6
}

// Allowed reports whether addr may be dialed by a guarded dialer.
func Allowed(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() ||
		addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() || addr.IsMulticast() ||
		addr.IsUnspecified() {
		return false
	}
	for _, p := range denied {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// Control is a net.Dialer.Control function that refuses denied addresses.
func Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &DeniedError{}
	}
	if !Allowed(ap.Addr()) {
		return &DeniedError{Addr: ap.Addr()}
	}
	return nil
}
