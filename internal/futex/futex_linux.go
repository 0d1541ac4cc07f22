// Package futex is the narrow syscall layer under the node's cross-process
// waits: FUTEX_WAIT and FUTEX_WAKE on 32-bit words in shared memory, never
// with FUTEX_PRIVATE_FLAG (the words are shared between processes).
package futex

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Futex operations (linux/futex.h); x/sys/unix does not export them.
const (
	futexOpWait = 0
	futexOpWake = 1
)

// Wait sleeps while *word == val, at most timeout. It returns early on a
// wake, a changed word (EAGAIN) or a signal (EINTR); the caller re-checks its
// condition in every case, so none of these is an error.
func Wait(word *atomic.Uint32, val uint32, timeout time.Duration) error {
	ts := unix.NsecToTimespec(int64(timeout))
	// FUTEX_WAIT without FUTEX_PRIVATE_FLAG: the word is shared between processes.
	_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)),
		futexOpWait, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
	switch errno {
	case 0, unix.EAGAIN, unix.EINTR, unix.ETIMEDOUT:
		return nil
	default:
		return errno
	}
}

// Wake wakes up to n waiters sleeping on word.
func Wake(word *atomic.Uint32, n int) error {
	_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)),
		futexOpWake, uintptr(n), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
