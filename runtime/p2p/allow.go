package p2p

import (
	"net"
	"net/netip"

	"github.com/anacrolix/torrent/iplist"
)

// allowList is an iplist.Ranger that blocks every address outside its
// prefixes: anacrolix consults it on accept, on dial and in the DHT.
type allowList []netip.Prefix

var _ iplist.Ranger = allowList(nil)

func (a allowList) allowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (a allowList) Lookup(ip net.IP) (iplist.Range, bool) {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok || !a.allowed(addr) {
		return iplist.Range{First: ip, Last: ip, Description: "outside the p2p allow-list"}, true
	}
	return iplist.Range{}, false
}

func (a allowList) NumRanges() int { return len(a) }
