//go:build wasip1

package sdk

import (
	"fmt"
	"unsafe"
)

//go:wasmimport inos random_get
func randomGet(buf unsafe.Pointer, n uint32) uint32

// entropy reads the host's inos.random_get (ABI.md, "Randomness").
type entropy struct{}

func (entropy) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	switch errno := randomGet(unsafe.Pointer(&p[0]), uint32(len(p))); errno {
	case 0:
		return len(p), nil
	case 52:
		return 0, fmt.Errorf("sdk: no entropy: the library is not configured with a random source (ENOSYS)")
	default:
		return 0, fmt.Errorf("sdk: inos.random_get failed with errno %d", errno)
	}
}

// Entropy is real randomness for keys and nonces: the host's
// inos.random_get, which reads the library's configured source. It fails
// (never returns predictable bytes) in a library that has none. Go's
// crypto/rand in a guest reads WASI's random_get, which the node keeps
// deterministic so that fuel does not depend on random seeds: never use
// it for secrets.
var Entropy interface{ Read([]byte) (int, error) } = entropy{}
