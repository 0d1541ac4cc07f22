package shm

import (
	"encoding/binary"
	"fmt"
)

// Header constants.
const (
	Magic      = "INOSSHM\x00"
	Version    = 2
	HeaderSize = 4096
	// ProducerEntrySize is the size of one producer table entry: its own
	// cache-line pair, so producers never share a line.
	ProducerEntrySize = 128

	sectionAlign = 4096
)

// Header field offsets.
const (
	hdrMagic     = 0
	hdrVersion   = 8
	hdrState     = 12
	hdrSize      = 16
	hdrNodePID   = 24
	hdrNodeStart = 32
	hdrHeartbeat = 40
	hdrCreated   = 48
	hdrLayout    = 64
)

// Region states (header word at offset 12).
const (
	StateReady  = 1
	StateClosed = 2
)

// LayoutConfig gives the sizes a Layout is computed from. The ring sizes
// come from the ring package, which shm does not depend on.
type LayoutConfig struct {
	InboxBytes     uint64 // bytes of the inbox ring
	OutboxBytes    uint64 // bytes of one producer's outbox ring
	MaxProducers   uint64 // producer slots, 1..16383
	ArenaMetaBytes uint64 // bytes of the heap arena's metadata (arena.MetaSize)
	HeapBytes      uint64 // bytes of the shared heap the arena hands out
}

// Layout places the region's sections. Every offset is a multiple of 4 KiB.
type Layout struct {
	InboxOff, InboxSize uint64
	ProducersOff        uint64
	MaxProducers        uint64
	OutboxOff           uint64
	OutboxStride        uint64 // distance between two producers' outboxes
	OutboxSize          uint64
	ArenaMetaOff        uint64
	ArenaMetaSize       uint64
	HeapOff             uint64
	HeapSize            uint64
	Size                uint64 // total bytes
}

const layoutWords = 12

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }

// NewLayout computes the layout for c.
func NewLayout(c LayoutConfig) (Layout, error) {
	if c.MaxProducers == 0 || c.MaxProducers > 16383 {
		return Layout{}, fmt.Errorf("shm: MaxProducers %d out of range 1..16383", c.MaxProducers)
	}
	if c.InboxBytes == 0 || c.OutboxBytes == 0 || c.ArenaMetaBytes == 0 || c.HeapBytes == 0 {
		return Layout{}, fmt.Errorf("shm: empty section in %+v", c)
	}
	var l Layout
	off := uint64(HeaderSize)
	l.InboxOff, l.InboxSize = off, c.InboxBytes
	off = alignUp(off+c.InboxBytes, sectionAlign)
	l.ProducersOff, l.MaxProducers = off, c.MaxProducers
	off = alignUp(off+c.MaxProducers*ProducerEntrySize, sectionAlign)
	l.OutboxOff, l.OutboxSize = off, c.OutboxBytes
	l.OutboxStride = alignUp(c.OutboxBytes, 128)
	off = alignUp(off+c.MaxProducers*l.OutboxStride, sectionAlign)
	l.ArenaMetaOff, l.ArenaMetaSize = off, c.ArenaMetaBytes
	off = alignUp(off+c.ArenaMetaBytes, sectionAlign)
	l.HeapOff, l.HeapSize = off, c.HeapBytes
	l.Size = alignUp(off+c.HeapBytes, sectionAlign)
	return l, nil
}

// Outbox returns the offset of producer slot i's outbox ring.
func (l Layout) Outbox(i int) uint64 { return l.OutboxOff + uint64(i)*l.OutboxStride }

func (l Layout) words() [layoutWords]uint64 {
	return [layoutWords]uint64{l.InboxOff, l.InboxSize, l.ProducersOff, l.MaxProducers,
		l.OutboxOff, l.OutboxStride, l.OutboxSize, l.ArenaMetaOff, l.ArenaMetaSize, l.HeapOff, l.HeapSize, l.Size}
}

func (l *Layout) put(b []byte) {
	for i, w := range l.words() {
		binary.LittleEndian.PutUint64(b[hdrLayout+8*i:], w)
	}
}

func readLayout(b []byte) Layout {
	var w [layoutWords]uint64
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(b[hdrLayout+8*i:])
	}
	return Layout{w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10], w[11]}
}

// check verifies that sections are aligned, ordered, non-overlapping and
// inside size bytes: a header we read from a file is input, not truth.
func (l Layout) check(size uint64) error {
	type sec struct {
		name      string
		off, size uint64
	}
	if l.MaxProducers == 0 || l.MaxProducers > 16383 || l.OutboxStride < l.OutboxSize {
		return fmt.Errorf("producers %d, outbox stride %d < size %d", l.MaxProducers, l.OutboxStride, l.OutboxSize)
	}
	secs := []sec{
		{"inbox", l.InboxOff, l.InboxSize},
		{"producers", l.ProducersOff, l.MaxProducers * ProducerEntrySize},
		{"outboxes", l.OutboxOff, l.MaxProducers * l.OutboxStride},
		{"arena metadata", l.ArenaMetaOff, l.ArenaMetaSize},
		{"heap", l.HeapOff, l.HeapSize},
	}
	end := uint64(HeaderSize)
	for _, s := range secs {
		if s.off%sectionAlign != 0 || s.off < end || s.size == 0 || s.off+s.size < s.off {
			return fmt.Errorf("section %s at %d (+%d) misplaced", s.name, s.off, s.size)
		}
		end = s.off + s.size
	}
	if end > size || l.Size != size || l.Size-end >= sectionAlign {
		return fmt.Errorf("sections end at %d, layout size %d, file size %d", end, l.Size, size)
	}
	return nil
}
