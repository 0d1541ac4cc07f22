package shm

import (
	"context"

	"github.com/inos-node/node/internal/futex"
	"math"
	"sync/atomic"
	"time"
	"unsafe"
)

// EpochSize is the number of bytes an Epoch occupies. Epochs are placed on
// their own cache lines by the layouts that hold them.
const EpochSize = 8

// Epoch is a futex-backed event counter in shared memory. See the package
// documentation for the wake protocol. An Epoch is a view: copying it is
// cheap and all copies refer to the same words.
type Epoch struct {
	seq      *atomic.Uint32
	sleepers *atomic.Uint32
}

// EpochAt returns the Epoch whose two words start at mem[0]; mem must be
// at least EpochSize bytes and 4-byte aligned.
func EpochAt(mem []byte) Epoch {
	_ = mem[EpochSize-1]
	return Epoch{
		seq:      (*atomic.Uint32)(unsafe.Pointer(&mem[0])),
		sleepers: (*atomic.Uint32)(unsafe.Pointer(&mem[4])),
	}
}

// Seq returns the current sequence number.
func (e Epoch) Seq() uint32 { return e.seq.Load() }

// Sleepers returns how many waiters are parked (or about to park).
func (e Epoch) Sleepers() uint32 { return e.sleepers.Load() }

// Bump publishes an event: it increments the sequence and wakes every parked
// waiter, making the system call only when someone is parked. It reports
// whether it made the call. Call it after the data it announces is published.
func (e Epoch) Bump() (woke bool) {
	e.seq.Add(1)
	if e.sleepers.Load() == 0 {
		return false
	}
	_ = futex.Wake(e.seq, math.MaxInt32)
	return true
}

// WaitPolicy says how a waiter waits: it spins (re-checking its condition)
// for Spin, then parks in the kernel in slices of at most Park, re-checking
// the condition, its context and Alive between slices.
type WaitPolicy struct {
	// Spin is how long to busy-poll before parking. Zero parks at once.
	Spin time.Duration
	// Park bounds one futex sleep; 0 means DefaultPark.
	Park time.Duration
	// Alive, if set, is called between parked slices; an error it returns
	// ends the wait (for example: the peer process is gone).
	Alive func() error
}

// Default waiting figures: spin long enough to cover a round trip to a busy
// peer, park in slices short enough to notice a dead peer quickly.
const (
	DefaultSpin = 50 * time.Microsecond
	DefaultPark = 50 * time.Millisecond
)

// WaitStats counts how a wait ended, for metrics.
type WaitStats struct {
	Spun     bool // the condition became true while spinning
	Parked   int  // futex sleeps taken
	TimedOut bool // WaitUntil's time came first
}

// Wait returns once ready() reports true, the context ends, or p.Alive
// fails. ready must be cheap and must not block; it is called often.
func (e Epoch) Wait(ctx context.Context, p WaitPolicy, ready func() bool) (WaitStats, error) {
	return e.WaitUntil(ctx, p, time.Time{}, ready)
}

// WaitUntil is Wait that also returns, with st.TimedOut set and no error,
// once until passes (a zero until never passes). It costs no allocation,
// unlike a context with a deadline, so a loop can call it on every turn.
func (e Epoch) WaitUntil(ctx context.Context, p WaitPolicy, until time.Time, ready func() bool) (WaitStats, error) {
	var st WaitStats
	if ready() {
		st.Spun = true
		return st, nil
	}
	if p.Spin > 0 {
		start := time.Now()
		for i := 1; ; i++ {
			if ready() {
				st.Spun = true
				return st, nil
			}
			// Reading the clock costs ~20 ns; do it every 64 checks.
			if i&63 == 0 && time.Since(start) >= p.Spin {
				break
			}
		}
	}
	park := p.Park
	if park <= 0 {
		park = DefaultPark
	}
	for {
		e.sleepers.Add(1)
		s := e.seq.Load()
		if ready() {
			e.sleepers.Add(^uint32(0))
			return st, nil
		}
		slice := park
		end, fromCtx := until, false
		if dl, ok := ctx.Deadline(); ok && (end.IsZero() || dl.Before(end)) {
			end, fromCtx = dl, true
		}
		if !end.IsZero() {
			left := time.Until(end)
			if left <= 0 {
				e.sleepers.Add(^uint32(0))
				if fromCtx {
					return st, context.DeadlineExceeded
				}
				st.TimedOut = true
				return st, nil
			}
			slice = min(slice, left)
		}
		err := futex.Wait(e.seq, s, slice)
		e.sleepers.Add(^uint32(0))
		st.Parked++
		if err != nil {
			return st, err
		}
		if ready() {
			return st, nil
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if p.Alive != nil {
			if err := p.Alive(); err != nil {
				return st, err
			}
		}
	}
}
