package testsupport

import (
	"net"
	"sync/atomic"
	"testing"
)

// Listen returns a listener on a free port of 127.0.0.1 that accepts and
// closes every connection until the test ends: something to connect to.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	Accept(t, ln)
	return ln
}

// Accept accepts and closes every connection to ln until the test ends,
// then closes ln. It returns how many connections it has accepted so far.
func Accept(t testing.TB, ln net.Listener) *atomic.Int32 {
	t.Helper()
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return &n
}
