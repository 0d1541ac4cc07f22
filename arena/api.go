package arena

import (
	"errors"
	"fmt"
)

// Granule is the arena's unit: every block starts on a 64-byte boundary
// (a cache line) and a request of n bytes holds ceil(n/64) granules.
const Granule = 64

// Owner names who holds an allocation: 0 is the node, 1..MaxOwner a
// producer slot + 1 (the same ids as ring owners).
type Owner uint16

// NodeOwner is the node's owner id.
const NodeOwner Owner = 0

// Handle names one allocation for its whole life: a table index and a
// generation. A handle kept after Free is stale and refused.
type Handle uint64

// Errors callers can compare with errors.Is.
var (
	ErrNoSpace      = errors.New("arena: no free block large enough")
	ErrNoHandles    = errors.New("arena: handle table full")
	ErrStaleHandle  = errors.New("arena: stale handle (freed and reused, or never issued)")
	ErrDoubleFree   = errors.New("arena: double free")
	ErrForeign      = errors.New("arena: handle belongs to another owner")
	ErrPinned       = errors.New("arena: block is pinned")
	ErrNotPinned    = errors.New("arena: block is not pinned by its owner")
	ErrBadSize      = errors.New("arena: bad size")
	ErrBadArena     = errors.New("arena: metadata is not an initialized arena")
	ErrNotSupported = errors.New("arena: not supported")
)

// HandleError adds the handle to one of the errors above.
type HandleError struct {
	Handle Handle
	Err    error
}

func (e *HandleError) Error() string {
	return fmt.Sprintf("%v (handle %#x: index %d, generation %d)", e.Err, uint64(e.Handle), e.Handle.index(), e.Handle.gen())
}

func (e *HandleError) Unwrap() error { return e.Err }

func (h Handle) index() uint32 { return uint32(h) }
func (h Handle) gen() uint32   { return uint32(h >> 32) }

// Config sizes an arena.
type Config struct {
	// Size is the number of data bytes, a multiple of Granule.
	Size uint64
	// MaxHandles bounds live allocations; default 65536.
	MaxHandles int
	// Plain turns the arena into a plain power-of-two buddy allocator: no
	// tail trimming, no exact-fit lists, no compaction. It is the baseline
	// that benchmarks compare against.
	Plain bool
	// CompactAt is the external fragmentation (0..1) above which
	// NeedsCompaction reports true; default 0.30.
	CompactAt float64
}

// Stats is the fragmentation monitor's snapshot. Byte counts are exact.
type Stats struct {
	Size          uint64  // data bytes
	Live          uint64  // live allocations
	Requested     uint64  // bytes callers asked for, live allocations
	Held          uint64  // bytes held for live allocations (granule or power-of-two rounded)
	Cached        uint64  // free blocks kept on exact-fit lists
	Free          uint64  // free bytes in the buddy structure
	LargestFree   uint64  // largest free block
	Efficiency    float64 // Requested / (Held + Cached); 1 when empty
	InternalFrag  float64 // 1 - Requested/Held
	ExternalFrag  float64 // 1 - LargestFree/Free
	Allocs, Frees uint64
	QuickHits     uint64 // allocations served by an exact-fit list
	Compactions   uint64 // blocks moved by compaction
	BytesMoved    uint64
	Recoveries    uint64 // metadata rebuilt after a lock holder died
	HandlesInUse  int
}

// CompactStats reports one Compact call.
type CompactStats struct {
	Moved      int
	BytesMoved uint64
	Skipped    int // candidates left in place because they were pinned
}
