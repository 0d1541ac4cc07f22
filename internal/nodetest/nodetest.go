// Package nodetest runs a node in a test's process, serving a registry on
// a fresh region, with a producer attached: the rig of the tests that go
// through the whole job path without a second process. FreeAddr gives the
// tests of the node's HTTP endpoint a port to listen on.
package nodetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inos-node/node/client"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/shm"
)

var seq atomic.Int64

// Start runs a node serving reg with a shared heap of heapBytes on a new
// region, and returns a producer attached to it. Both stop when the test
// ends.
func Start(t testing.TB, reg *kernel.Registry, heapBytes uint64) *client.Client {
	t.Helper()
	name := fmt.Sprintf("nt%d-%d", os.Getpid(), seq.Add(1))
	wait := shm.WaitPolicy{Spin: 20 * time.Microsecond, Park: 10 * time.Millisecond}
	n, err := kernel.New(kernel.Config{
		Region: name, InboxCap: 64, OutboxCap: 64, MaxProducers: 4, HeapBytes: heapBytes,
		Wait: wait, Libraries: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done; n.Close() })
	c, err := client.Attach(name, client.Options{Wait: wait})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
