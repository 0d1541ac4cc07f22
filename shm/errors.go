package shm

import (
	"errors"
	"fmt"
)

// Errors returned by Create and Attach. Compare with errors.Is.
var (
	ErrBadMagic     = errors.New("shm: not an INOS region (bad magic)")
	ErrVersion      = errors.New("shm: region version mismatch")
	ErrBadLayout    = errors.New("shm: region layout is inconsistent")
	ErrNotReady     = errors.New("shm: region is not ready")
	ErrNoNode       = errors.New("shm: no node serves this region")
	ErrBusy         = errors.New("shm: region is served by another running node")
	ErrRegistryFull = errors.New("shm: producer table is full")
)

// RegionError adds the region's name and a detail to one of the errors above.
type RegionError struct {
	Name   string
	Detail string
	Err    error
}

func (e *RegionError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("%v (region %q)", e.Err, e.Name)
	}
	return fmt.Sprintf("%v (region %q): %s", e.Err, e.Name, e.Detail)
}

func (e *RegionError) Unwrap() error { return e.Err }
