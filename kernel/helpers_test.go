package kernel_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inos-node/node/arena"
	"github.com/inos-node/node/client"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/ring"
	"github.com/inos-node/node/shm"
)

var regionSeq atomic.Int64

// regionName returns a region name unique to this process and test.
func regionName(t testing.TB) string {
	return fmt.Sprintf("t%d-%d", os.Getpid(), regionSeq.Add(1))
}

// smallConfig is a node configuration sized for tests.
func smallConfig(region string) kernel.Config {
	return kernel.Config{
		Region: region, InboxCap: 64, OutboxCap: 64, MaxProducers: 8, HeapBytes: 32 << 20,
		Wait:         shm.WaitPolicy{Spin: 20 * time.Microsecond, Park: 10 * time.Millisecond},
		Housekeeping: 20 * time.Millisecond,
		Logger:       testLogger(),
	}
}

// startNode runs a node in this process until the test ends.
func startNode(t testing.TB, cfg kernel.Config) *kernel.Node {
	t.Helper()
	n, err := kernel.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := n.Run(ctx); err != nil {
			t.Errorf("node: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		n.Close()
	})
	return n
}

func attach(t testing.TB, region string) *client.Client {
	t.Helper()
	c, err := client.Attach(region, client.Options{Wait: shm.WaitPolicy{Spin: 20 * time.Microsecond, Park: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawProducer registers in a region's producer table and pushes hand-made
// inbox entries, to test what the client would never send.
type rawProducer struct {
	region *shm.Region
	inbox  *ring.Ring
	outbox *ring.Ring
	slot   int
	gen    uint32
	heap   *arena.Arena
}

func newRawProducer(t testing.TB, name string) *rawProducer {
	t.Helper()
	r, err := shm.Attach(name, shm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := r.Layout()
	inbox, err := ring.Attach(r.Slice(l.InboxOff, l.InboxSize))
	if err != nil {
		t.Fatal(err)
	}
	start, _, _ := shm.ProcStartTime(os.Getpid())
	slot, gen, err := r.Producers().Register(os.Getpid(), start)
	if err != nil {
		t.Fatal(err)
	}
	outbox, err := ring.Attach(r.Slice(l.Outbox(slot), l.OutboxSize))
	if err != nil {
		t.Fatal(err)
	}
	heap, err := arena.AttachRegion(r)
	if err != nil {
		t.Fatal(err)
	}
	p := &rawProducer{region: r, inbox: inbox, outbox: outbox, slot: slot, gen: gen, heap: heap}
	t.Cleanup(func() {
		r.Producers().Leave(slot, os.Getpid())
		r.Close()
	})
	return p
}

// alloc reserves a pinned heap block of n bytes and returns its handle and
// region offset.
func (p *rawProducer) alloc(t testing.TB, n uint64) (arena.Handle, uint64) {
	t.Helper()
	h, off, err := p.heap.Alloc(arena.Owner(p.slot+1), n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.heap.Pin(h); err != nil {
		t.Fatal(err)
	}
	return h, p.region.Layout().HeapOff + off
}

// send writes msg into a fresh pinned block with room for the result,
// pushes it with tag, and waits for the outbox entry.
func (p *rawProducer) send(t testing.TB, msg []byte, tag uint64) ring.Entry {
	t.Helper()
	h, off := p.alloc(t, max(uint64(len(msg)), kernel.ResultBufferMin))
	copy(p.region.Bytes()[off:], msg)
	return p.sendEntry(t, ring.Entry{Off: uint64(h), Len: uint32(len(msg)), Aux: p.gen, Tag: tag})
}

func (p *rawProducer) sendEntry(t testing.TB, e ring.Entry) ring.Entry {
	t.Helper()
	if err := p.inbox.TryPush(uint16(p.slot+1), e); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.outbox.Wait(ctx, shm.WaitPolicy{Spin: 10 * time.Microsecond, Park: 5 * time.Millisecond}); err != nil {
		t.Fatalf("no result for tag %d: %v", e.Tag, err)
	}
	var out [1]ring.Entry
	if n, _ := p.outbox.PopBatch(out[:]); n != 1 {
		t.Fatal("outbox ready but empty")
	}
	return out[0]
}

func ringEntry(off uint64, n uint32, gen uint32, tag uint64) ring.Entry {
	return ring.Entry{Off: off, Len: n, Aux: gen, Tag: tag}
}

// hugePointerCount is a message whose root struct claims 65535 pointers in
// a one-word segment.
func hugePointerCount() []byte {
	msg := make([]byte, 16)
	msg[4] = 1 // one segment of one word
	// struct pointer: offset 0, data 0 words, 0xffff pointers
	msg[8+6], msg[8+7] = 0xff, 0xff
	return msg
}

// deepMessage is a JobRequest (job id 13) whose limits struct starts a
// chain of depth nested structs, each holding one pointer to the next.
func deepMessage(depth int) []byte {
	words := 10 + depth
	seg := make([]uint64, words)
	structPtr := func(offset, data, ptrs int) uint64 {
		return uint64(uint32(offset)<<2) | uint64(data)<<32 | uint64(ptrs)<<48
	}
	seg[0] = structPtr(0, 3, 6) // root at word 1
	seg[1] = 13                 // job id
	for k := 0; k < depth; k++ {
		at := 9 + k // limits pointer, then each chain link's pointer
		seg[at] = structPtr(0, 0, 1)
	}
	msg := make([]byte, 8+8*words)
	binary.LittleEndian.PutUint32(msg[4:], uint32(words))
	for i, w := range seg {
		binary.LittleEndian.PutUint64(msg[8+8*i:], w)
	}
	return msg
}
