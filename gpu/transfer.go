//go:build cgo

package gpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inos-node/node/gpu/internal/wgpu"
)

// Host↔device transfers (jobs and the benchmarks alike) go through two
// rings of mappable staging buffers that a generation keeps across jobs:
// an upload ring (MapWrite|CopySrc, kept mapped while idle) and a read-back
// ring (MapRead|CopyDst). A transfer is cut into chunks; chunk i uses slot
// i mod 4, so the host's copy of one chunk overlaps the DMA of the others,
// and that copy is spread over up to 16 goroutines.
//
// Why (measured on the H100, 256 MiB, NOTES.md): wgpuQueueWriteBuffer
// reached 1.1–1.5 GB/s whole or in 4 or 32 MiB pieces, and a fresh
// mappedAtCreation staging buffer per upload 1.2 GB/s even with the copy
// in parallel: making host-visible memory is the cost (Dawn makes it for
// each large write), not the copy. A fresh MapRead buffer per read-back
// gave 2.9 GB/s, one reused but copied out by one goroutine 5.5 GB/s (one
// core copies about 6 GB/s there). Through these rings: 25–29 GB/s up,
// 22–27 GB/s down.
//
// On a CPU adapter (lavapipe) uploads keep wgpuQueueWriteBuffer: there it
// was the faster (64 MiB: 20 GB/s, against 12 through the ring).
//
// Slots start at 1 MiB and grow (a power of two, at most ringChunk) to the
// largest chunk asked for: a node that moves only small data keeps little.
// At most 2 × ringSlots × ringChunk bytes (128 MiB) of host-visible memory
// stay held until the generation ends.

const (
	ringSlots = 4
	ringMin   = 1 << 20
	// directBytes: uploads up to this size go through wgpuQueueWriteBuffer
	// (one call, no extra submission).
	directBytes = 64 << 10
	// maxCopyWorkers bounds the goroutines of one host copy.
	maxCopyWorkers = 16
)

// ringChunk is the largest staging buffer (a variable for the tuning
// test). On the H100, 16 MiB and 32 MiB chunks gave the same uploads
// (25–29 GB/s) and 16 MiB the better read-backs (23–27 against 23–24);
// 8 MiB 18 GB/s both ways.
var ringChunk uint64 = 16 << 20

// ringSlot is one staging buffer.
type ringSlot struct {
	buf    *wgpu.Buffer
	mapped bool // upload ring: mapped for writing, ready to fill
}

// ring is a generation's set of staging buffers of one direction.
type ring struct {
	usage wgpu.BufferUsage
	slots [ringSlots]ringSlot
}

// chunkFor is the chunk size of a transfer of total bytes.
func chunkFor(total uint64) uint64 {
	c := uint64(ringMin)
	for c < total && c < ringChunk {
		c <<= 1
	}
	return min(c, max(ringChunk, ringMin))
}

// take returns the first n slots, each with a buffer of at least size bytes
// (made anew when smaller, mapped at creation for the upload ring).
func (r *ring) take(dev *wgpu.Device, n, size uint64) []*ringSlot {
	out := make([]*ringSlot, n)
	for i := range out {
		s := &r.slots[i]
		if s.buf != nil && s.buf.Size() < size {
			r.drop(s)
		}
		if s.buf == nil {
			if r.usage&wgpu.UsageMapWrite != 0 {
				s.buf, s.mapped = dev.CreateBufferMapped(size, r.usage), true
			} else {
				s.buf = dev.CreateBuffer(size, r.usage)
			}
		}
		out[i] = s
	}
	return out
}

// drop releases a slot's buffer (after a failure: it is made anew next time).
func (r *ring) drop(s *ringSlot) {
	if s.buf != nil {
		s.buf.Release()
	}
	s.buf, s.mapped = nil, false
}

func (r *ring) release() {
	for i := range r.slots {
		r.drop(&r.slots[i])
	}
}

// count is the number of buffers the ring holds.
func (r *ring) count() int {
	n := 0
	for _, s := range r.slots {
		if s.buf != nil {
			n++
		}
	}
	return n
}

// segment is data to write at off in dst (off a multiple of 4; the data's
// tail is padded with zeros to a multiple of 4 bytes, which dst must hold).
type segment struct {
	dst  *wgpu.Buffer
	off  uint64
	data []byte
}

// xfer is one job's (or benchmark's) transfer context: its waits end at
// deadline, and a failed wait becomes the job's error (timeout names the
// job's whole timeout).
type xfer struct {
	e        *engine
	g        *generation
	deadline time.Time
	timeout  time.Duration
}

func (x *xfer) fail(err error) error { return x.e.waitError(x.g, err, x.timeout) }

// upload writes the segments into their buffers: small ones (and all on a
// CPU adapter) with wgpuQueueWriteBuffer, larger through the upload ring.
// It returns when the copies are submitted (queue order puts them before
// later submissions).
func (x *xfer) upload(segs []segment) error {
	g := x.g
	q := g.dev.Queue()
	var total uint64
	for _, s := range segs {
		total += align4(uint64(len(s.data)))
	}
	if total == 0 {
		return nil
	}
	if total <= directBytes || !x.e.stagedUploads {
		for _, s := range segs {
			writePadded(q, s.dst, s.off, s.data)
		}
		return nil
	}
	c := chunkFor(total)
	slots := g.up.take(g.dev, min((total+c-1)/c, ringSlots), c)
	seg, pos := 0, uint64(0) // the next byte to send: segs[seg].data[pos]
	var tasks []copyTask
	for i := 0; seg < len(segs); i++ {
		s := slots[i%len(slots)]
		if !s.mapped {
			if err := s.buf.MapWrite(0, s.buf.Size(), time.Until(x.deadline)); err != nil {
				return x.failSlot(&g.up, s, err)
			}
			s.mapped = true
		}
		view, err := s.buf.MappedWritable(0, c)
		if err != nil {
			return x.failSlot(&g.up, s, err)
		}
		enc := g.dev.CreateCommandEncoder()
		tasks = tasks[:0]
		at := uint64(0) // a multiple of 4, as c is
		for at < c && seg < len(segs) {
			sg := segs[seg]
			rest := sg.data[pos:]
			m := min(uint64(len(rest)), c-at)
			tasks = append(tasks, copyTask{view[at : at+m], rest[:m]})
			size := m // a multiple of 4 unless the segment ends here
			dstOff := sg.off + pos
			if m == uint64(len(rest)) {
				size = align4(m) // ≤ c − at, a multiple of 4
				clear(view[at+m : at+size])
				seg, pos = seg+1, 0
			} else {
				pos += m
			}
			if size > 0 {
				enc.CopyBufferToBuffer(s.buf, at, sg.dst, dstOff, size)
			}
			at += size
		}
		copyAll(tasks)
		s.buf.Unmap()
		s.mapped = false
		cb := enc.Finish()
		q.Submit(cb)
		cb.Release()
		enc.Release()
	}
	return nil
}

// failSlot drops a slot whose map failed (unless the device is being
// abandoned: its release takes the slot) and returns the job's error.
func (x *xfer) failSlot(r *ring, s *ringSlot, err error) error {
	err = x.fail(err)
	if !x.g.broken {
		r.drop(s)
	}
	return err
}

// download copies len(dst) bytes from the start of src (which holds at
// least align4(len(dst))) into dst through the read-back ring. pre, if not
// nil, encodes commands that run first (a job's dispatch) in the same
// submission; check, if not nil, runs after that submission (a job's error
// scopes) and ends the download when it fails. With nothing to read it
// waits for the submitted work.
func (x *xfer) download(src *wgpu.Buffer, dst []byte, pre func(*wgpu.CommandEncoder), check func() error) error {
	g := x.g
	q := g.dev.Queue()
	size := align4(uint64(len(dst)))
	c := chunkFor(size)
	n := (size + c - 1) / c
	var slots []*ringSlot
	if n > 0 {
		slots = g.down.take(g.dev, min(n, ringSlots), c)
	}
	m := uint64(len(slots))
	issue := func(enc *wgpu.CommandEncoder, i uint64) {
		off := i * c
		enc.CopyBufferToBuffer(src, off, slots[i%m].buf, 0, min(c, size-off))
	}
	submit := func(f func(enc *wgpu.CommandEncoder)) {
		enc := g.dev.CreateCommandEncoder()
		f(enc)
		cb := enc.Finish()
		q.Submit(cb)
		cb.Release()
		enc.Release()
	}
	submit(func(enc *wgpu.CommandEncoder) {
		if pre != nil {
			pre(enc)
		}
		for i := range m {
			issue(enc, i)
		}
	})
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	if n == 0 {
		if err := q.WorkDone(time.Until(x.deadline)); err != nil {
			return x.fail(err)
		}
		return nil
	}
	var tasks [1]copyTask
	for i := range n {
		s := slots[i%m]
		off := i * c
		sz := min(c, size-off)
		if err := s.buf.MapRead(0, sz, time.Until(x.deadline)); err != nil {
			return x.failSlot(&g.down, s, err)
		}
		view, err := s.buf.Mapped(0, sz)
		if err != nil {
			s.buf.Unmap()
			return x.failSlot(&g.down, s, err)
		}
		end := min(off+sz, uint64(len(dst)))
		tasks[0] = copyTask{dst[off:end], view[:end-off]}
		copyAll(tasks[:])
		s.buf.Unmap()
		if i+m < n {
			submit(func(enc *wgpu.CommandEncoder) { issue(enc, i+m) })
		}
	}
	return nil
}

// copyTask is one copy(dst, src) of equal lengths.
type copyTask struct{ dst, src []byte }

// copyAll runs the copies, spread over up to maxCopyWorkers goroutines in
// pieces of at least 1 MiB: one core copies about 6 GB/s on the H100's
// host, 16 about 40 GB/s.
func copyAll(tasks []copyTask) {
	const minPiece = 1 << 20
	var total int
	for _, t := range tasks {
		total += len(t.src)
	}
	workers := min(runtime.GOMAXPROCS(0), maxCopyWorkers, total/minPiece)
	if workers <= 1 {
		for _, t := range tasks {
			copy(t.dst, t.src)
		}
		return
	}
	piece := max((total/workers+4095)&^4095, minPiece)
	var parts []copyTask
	for _, t := range tasks {
		for a := 0; a < len(t.src); a += piece {
			b := min(a+piece, len(t.src))
			parts = append(parts, copyTask{t.dst[a:b], t.src[a:b]})
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(parts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(parts) {
					return
				}
				copy(parts[k].dst, parts[k].src)
			}
		}()
	}
	wg.Wait()
}
