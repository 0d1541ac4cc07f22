//go:build !wasip1

package sdk

import "crypto/rand"

// Entropy is real randomness for keys and nonces. In a guest it is the
// host's inos.random_get; outside one (a library's methods called natively,
// as the benchmarks and tests do) it is crypto/rand.
var Entropy interface{ Read([]byte) (int, error) } = rand.Reader
