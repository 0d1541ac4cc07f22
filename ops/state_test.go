package ops_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/inos-node/node/arena"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/ops"
	"github.com/inos-node/node/sandbox"
)

// The node's real types are what the lead passes.
var (
	_ ops.Node    = (*kernel.Node)(nil)
	_ ops.Library = (*sandbox.Library)(nil)
)

type fakeNode struct {
	depth int
	heap  arena.Stats
}

func (n *fakeNode) InboxDepth() int        { return n.depth }
func (n *fakeNode) HeapStats() arena.Stats { return n.heap }

type fakeLibrary struct {
	name  string
	stats sandbox.LibraryStats
	pool  sandbox.PoolStats
}

func (l *fakeLibrary) Name() string                 { return l.name }
func (l *fakeLibrary) Stats() sandbox.LibraryStats  { return l.stats }
func (l *fakeLibrary) PoolStats() sandbox.PoolStats { return l.pool }

func testNode() *fakeNode {
	return &fakeNode{depth: 7, heap: arena.Stats{Size: 64 << 20, Live: 12, Free: 60 << 20,
		Efficiency: 0.875, ExternalFrag: 0.25}}
}

func testLibraries() []ops.Library {
	return []ops.Library{
		&fakeLibrary{name: "image",
			stats: sandbox.LibraryStats{Jobs: 10, BytesMapped: 1 << 20, BytesCopied: 512, OutputMapsKept: 4},
			pool:  sandbox.PoolStats{Live: 3, Idle: 2, Created: 5, Discarded: 2, MemoryBytes: 3 << 20}},
		&fakeLibrary{name: "crypto", pool: sandbox.PoolStats{Live: 1, Idle: 1, Created: 1, MemoryBytes: 1 << 16}},
	}
}

func TestNodeCollector(t *testing.T) {
	const want = `
# HELP inos_inbox_depth Job entries waiting in the inbox ring.
# TYPE inos_inbox_depth gauge
inos_inbox_depth 7
# HELP inos_heap_efficiency Shared heap: bytes requested by live allocations / bytes held for them and on exact-fit lists (1 when empty).
# TYPE inos_heap_efficiency gauge
inos_heap_efficiency 0.875
# HELP inos_heap_external_fragmentation Shared heap: 1 - largest free block / free bytes (0: all free space in one block).
# TYPE inos_heap_external_fragmentation gauge
inos_heap_external_fragmentation 0.25
# HELP inos_heap_free_bytes Shared heap: free bytes in the buddy structure.
# TYPE inos_heap_free_bytes gauge
inos_heap_free_bytes 6.291456e+07
# HELP inos_heap_live_blocks Shared heap: live allocations.
# TYPE inos_heap_live_blocks gauge
inos_heap_live_blocks 12
# HELP inos_heap_size_bytes Shared heap: data bytes.
# TYPE inos_heap_size_bytes gauge
inos_heap_size_bytes 6.7108864e+07
`
	if err := testutil.CollectAndCompare(ops.NewNodeCollector(testNode()), strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestLibraryCollector(t *testing.T) {
	const want = `
# HELP inos_guest_instances Guest instances alive, by state: busy (out of the pool, running a job) or idle (warm in the pool).
# TYPE inos_guest_instances gauge
inos_guest_instances{library="crypto",state="busy"} 0
inos_guest_instances{library="crypto",state="idle"} 1
inos_guest_instances{library="image",state="busy"} 1
inos_guest_instances{library="image",state="idle"} 2
# HELP inos_guest_instances_discarded_total Guest instances discarded since start (a trap, an exit, a timeout, fuel run out).
# TYPE inos_guest_instances_discarded_total counter
inos_guest_instances_discarded_total{library="crypto"} 0
inos_guest_instances_discarded_total{library="image"} 2
# HELP inos_guest_memory_bytes Linear memory held by the idle guest instances (producers' pages mapped in are not counted).
# TYPE inos_guest_memory_bytes gauge
inos_guest_memory_bytes{library="crypto"} 65536
inos_guest_memory_bytes{library="image"} 3.145728e+06
# HELP inos_sandbox_bytes_copied_total Bytes copied into or out of guests where mapping was not possible.
# TYPE inos_sandbox_bytes_copied_total counter
inos_sandbox_bytes_copied_total{library="crypto"} 0
inos_sandbox_bytes_copied_total{library="image"} 512
# HELP inos_sandbox_bytes_mapped_total Bytes of producers' shared memory mapped into guests (zero-copy).
# TYPE inos_sandbox_bytes_mapped_total counter
inos_sandbox_bytes_mapped_total{library="crypto"} 0
inos_sandbox_bytes_mapped_total{library="image"} 1.048576e+06
`
	if err := testutil.CollectAndCompare(ops.NewLibraryCollector(testLibraries()...), strings.NewReader(want),
		"inos_guest_instances", "inos_guest_instances_discarded_total", "inos_guest_memory_bytes",
		"inos_sandbox_bytes_copied_total", "inos_sandbox_bytes_mapped_total"); err != nil {
		t.Fatal(err)
	}
}

func TestBuildInfo(t *testing.T) {
	c := ops.NewBuildInfo("v1.2.3")
	if n := testutil.CollectAndCount(c, "inos_up"); n != 1 {
		t.Fatalf("inos_up: %d series", n)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP inos_up 1 while the node serves metrics.
# TYPE inos_up gauge
inos_up 1
`), "inos_up"); err != nil {
		t.Fatal(err)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP inos_build_info Always 1; the labels name the build.
# TYPE inos_build_info gauge
inos_build_info{goversion="`+runtime.Version()+`",version="v1.2.3"} 1
`), "inos_build_info"); err != nil {
		t.Fatal(err)
	}
}
