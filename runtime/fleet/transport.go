package fleet

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Traffic is what a node's gossip has sent and received since it started.
type Traffic struct {
	Sent     uint64  `json:"sentBytes"`
	Received uint64  `json:"receivedBytes"`
	Seconds  float64 `json:"seconds"`
}

// countingTransport is memberlist's own UDP+TCP transport with byte
// counters: the gossip's cost, measured where it leaves and enters.
type countingTransport struct {
	*memberlist.NetTransport
	sent, recv atomic.Uint64
	packets    chan *memberlist.Packet
	streams    chan net.Conn
	done       chan struct{} // closed when Shutdown starts
	stopped    chan struct{} // closed when the NetTransport has stopped
	start      time.Time
}

func newCountingTransport(nt *memberlist.NetTransport) *countingTransport {
	t := &countingTransport{NetTransport: nt, packets: make(chan *memberlist.Packet), streams: make(chan net.Conn),
		done: make(chan struct{}), stopped: make(chan struct{}), start: time.Now()}
	go func() {
		for {
			select {
			case p := <-nt.PacketCh():
				t.recv.Add(uint64(len(p.Buf)))
				select {
				case t.packets <- p:
				case <-t.done:
					t.drain(nt)
					return
				}
			case <-t.done:
				t.drain(nt)
				return
			}
		}
	}()
	go func() {
		for {
			select {
			case c := <-nt.StreamCh():
				select {
				case t.streams <- &countingConn{Conn: c, t: t}:
				case <-t.done:
					c.Close()
					t.drain(nt)
					return
				}
			case <-t.done:
				t.drain(nt)
				return
			}
		}
	}()
	return t
}

func (t *countingTransport) Shutdown() error {
	close(t.done)
	err := t.NetTransport.Shutdown()
	close(t.stopped)
	return err
}

// drain takes what nt's listeners still hand over until nt has stopped:
// NetTransport.Shutdown waits for its listeners, and one blocked handing
// over a connection or packet nobody reads would hang it.
func (t *countingTransport) drain(nt *memberlist.NetTransport) {
	for {
		select {
		case c := <-nt.StreamCh():
			c.Close()
		case <-nt.PacketCh():
		case <-t.stopped:
			return
		}
	}
}

func (t *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	t.sent.Add(uint64(len(b)))
	return t.NetTransport.WriteTo(b, addr)
}

func (t *countingTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }
func (t *countingTransport) StreamCh() <-chan net.Conn           { return t.streams }

func (t *countingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := t.NetTransport.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, t: t}, nil
}

// The NetTransport's node-aware methods would bypass the counters: hide
// them (memberlist then wraps this Transport in its shim).
func (t *countingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

func (t *countingTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

func (t *countingTransport) traffic() Traffic {
	return Traffic{Sent: t.sent.Load(), Received: t.recv.Load(), Seconds: time.Since(t.start).Seconds()}
}

type countingConn struct {
	net.Conn
	t *countingTransport
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.t.recv.Add(uint64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.t.sent.Add(uint64(n))
	return n, err
}

var _ memberlist.NodeAwareTransport = (*countingTransport)(nil)
