// Package shm maps the shared-memory region that producers and the INOS node
// exchange jobs through, and provides the cross-process primitives that live
// in it: epoch words with futex wait/wake, and the producer registry.
//
// # Region
//
// A region is a file under /dev/shm (tmpfs) named "inos-<name>", mapped
// MAP_SHARED and pre-faulted by every process that uses it. Its first page is
// a header:
//
//	off  size  field
//	  0     8  magic "INOSSHM\x00"
//	  8     4  version (Version)
//	 12     4  state: 1 ready, 2 closed (atomic)
//	 16     8  total size in bytes
//	 24     4  node pid
//	 32     8  node start time (clock ticks since boot, /proc/PID/stat field 22)
//	 40     8  node heartbeat, Unix ns (atomic)
//	 48     8  creation time, Unix ns: tells two incarnations of a name apart
//	 64   ...  Layout: the offset and size of every section, 8 bytes each
//
// Sections (inbox ring, producer table, outbox rings, the heap arena's
// metadata, the heap) start on 4 KiB
// boundaries. Only offsets are stored in shared memory, never pointers: each
// process maps the region at its own address.
//
// # Creation, attachment and stale regions
//
// The node creates a region with [Create]. It holds an exclusive flock on
// "/dev/shm/inos-<name>.lock" for as long as it runs; the lock, not a pid, is
// what says a node is alive, because the kernel drops it when the node dies
// however it dies. Create builds the new region in a temporary file, writes
// the whole header, sets state ready and only then renames it over the name,
// so an attacher sees either the old file or a complete new one, never a
// half-written header. A region left by a node that crashed (the lock is free
// but the file exists) is reported and replaced, never reused.
//
// Producers attach with [Attach], which checks magic, version, state and
// the consistency of the layout, and fails with a typed error
// ([ErrBadMagic], [ErrVersion], [ErrBadLayout], [ErrNotReady], [ErrNoNode]).
//
// # Epochs
//
// An [Epoch] is two 32-bit words: a sequence bumped by whoever publishes
// something, and a count of sleepers. The wake protocol (sequentially
// consistent atomics throughout, which is what Go's sync/atomic provides):
//
//	waker:  publish; seq += 1; if sleepers != 0 { FUTEX_WAKE(seq) }
//	waiter: spin on ready() for Policy.Spin; then
//	        sleepers += 1; s := seq; if ready() { sleepers -= 1; done }
//	        FUTEX_WAIT(seq, s, Policy.Park); sleepers -= 1; loop
//
// A wake-up cannot be lost: if the waker's publish comes after the waiter's
// last ready() check, its seq increment also comes after the waiter's load of
// seq, so either FUTEX_WAIT sees a changed word and returns at once, or the
// waker's load of sleepers sees the waiter and wakes it. Futexes are shared
// (never FUTEX_PRIVATE_FLAG: the words are in a MAP_SHARED file mapping used
// by several processes), and every wait has a timeout so that a waiter can
// also notice a dead peer or a cancelled context.
//
// # Producer registry
//
// The producer table holds one 128-byte entry per producer slot: a state
// word that packs state and pid (claimed with one compare-and-swap), the
// producer's start time, a heartbeat and a registration generation that grows
// every time the slot is taken. The node scans the table and reclaims the
// slots of producers whose process is gone (or is a zombie, or whose pid was
// reused by another process).
package shm
