package webhook

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// Policy decides which addresses the fleet may connect to. Public unicast
// addresses are allowed; loopback, private (RFC 1918, fc00::/7), link-local,
// unspecified, multicast, shared (100.64.0.0/10) and reserved ranges are
// refused unless one of Allow contains the address.
type Policy struct {
	// Allow lists prefixes allowed although non-public, e.g. 127.0.0.0/8
	// and ::1/128 for a receiver on the same machine (the local stack).
	Allow []netip.Prefix
}

// ParseAllow reads a comma-separated list of CIDR prefixes or addresses
// ("127.0.0.0/8,::1"); "" is none.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("webhook: allow %q: not a CIDR prefix or address", item)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space (carrier NAT)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
}

// Check returns nil when addr may be called, else an error wrapping
// ErrForbiddenTarget.
func (p Policy) Check(addr netip.Addr) error {
	addr = addr.Unmap()
	for _, a := range p.Allow {
		if a.Contains(addr) {
			return nil
		}
	}
	bad := !addr.IsValid() || addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() ||
		addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() || addr.IsMulticast() || addr.IsUnspecified()
	for _, n := range nonPublic {
		bad = bad || n.Contains(addr)
	}
	if bad {
		return fmt.Errorf("%w: %s is not a public address (allow it with the webhook allow list)", ErrForbiddenTarget, addr)
	}
	return nil
}

// control is a net.Dialer Control function: it checks the address of every
// connection right before it is made, after DNS resolution, so a name that
// resolves (or re-resolves) to an internal address is refused too.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrForbiddenTarget, address)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrForbiddenTarget, address)
	}
	return p.Check(a)
}
