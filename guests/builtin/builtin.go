// Package builtin is the node's built-in library set: the host-side
// libraries echo and noop, and the wasm guests bench, image and crypto,
// each with the limits the product sets for it. `inos run`, `inos demo` and
// the benchmarks serve this set, so what they measure is what a node runs.
package builtin

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/inos-node/node/guests/wasm"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/sandbox"
)

// Guest is one built-in wasm library: its module and how it is served.
type Guest struct {
	Name   string
	Wasm   []byte
	Limits sandbox.Limits
	// Random is what the guest's inos.random_get (sdk.Entropy) reads:
	// crypto/rand for a library that makes nonces or keys, nil for the
	// others.
	Random io.Reader
}

// Guests returns the built-in guests with their product limits:
//
//   - image: 10 MB in, 50 MB out, 5 s, 100e9 fuel, 256 MiB of memory
//     (sandbox.ImageLimits);
//   - crypto: 256 MiB in and out (hashing or encrypting a large object in
//     one job), 30 s, 600e9 fuel (about the 30 s; SHA-256 of 256 MiB
//     takes 6.2e9), 768 MiB of memory (the two windows and 256 MiB of
//     working space), and real randomness for AES-GCM nonces;
//   - bench: the sandbox benchmark's guest, 64 MiB in and out.
func Guests() []Guest {
	crypto := sandbox.Limits{
		MaxInputBytes: 256 << 20, MaxOutputBytes: 256<<20 + 64,
		MaxMemoryPages: 12288, Timeout: 30 * time.Second, MaxFuel: 600_000_000_000,
		Imports: append(sandbox.GoGuestImports(), "inos."+sandbox.RandomImport),
	}
	bench := sandbox.ImageLimits()
	bench.MaxInputBytes, bench.MaxOutputBytes = 64<<20, 64<<20
	return []Guest{
		{Name: "image", Wasm: wasm.Image, Limits: sandbox.ImageLimits()},
		{Name: "crypto", Wasm: wasm.Crypto, Limits: crypto, Random: rand.Reader},
		{Name: "bench", Wasm: wasm.Bench, Limits: bench},
	}
}

// MaxMemoryPages is the most memory any built-in guest may have, what a
// sandbox.Engine serving them must allow.
func MaxMemoryPages() uint32 {
	var m uint32
	for _, g := range Guests() {
		m = max(m, g.Limits.MaxMemoryPages)
	}
	return m
}

// Options configure Load.
type Options struct {
	// CacheDir holds wazero's compiled code across runs ("" for none):
	// with it a node starts in tens of milliseconds instead of seconds.
	CacheDir string
	// Only, if not empty, names the guests to load; the others are left
	// out (the host-side libraries are always there).
	Only []string
}

// Set is a loaded library set: a registry for kernel.Config.Libraries and
// the guests behind it.
type Set struct {
	Registry *kernel.Registry
	Guests   map[string]*sandbox.Library
	Limits   map[string]sandbox.Limits
	engine   *sandbox.Engine
}

// Load compiles (or takes from the cache) and warms the built-in guests and
// returns the set. Close it when the node is done with it.
func Load(ctx context.Context, o Options) (*Set, error) {
	eng, err := sandbox.NewEngine(ctx, o.CacheDir, MaxMemoryPages())
	if err != nil {
		return nil, err
	}
	s := &Set{engine: eng, Guests: map[string]*sandbox.Library{}, Limits: map[string]sandbox.Limits{}}
	reg, err := kernel.NewRegistry(kernel.Echo{}, kernel.Noop{})
	if err != nil {
		eng.Close(ctx)
		return nil, err
	}
	s.Registry = reg
	for _, g := range Guests() {
		if !wanted(o.Only, g.Name) {
			continue
		}
		l, err := eng.NewLibrary(ctx, sandbox.LibraryConfig{Name: g.Name, Wasm: g.Wasm, Limits: g.Limits, Random: g.Random})
		if err == nil {
			err = reg.Add(l)
		}
		if err != nil {
			s.Close(ctx)
			return nil, fmt.Errorf("builtin: library %s: %w", g.Name, err)
		}
		s.Guests[g.Name], s.Limits[g.Name] = l, g.Limits
	}
	for _, name := range o.Only {
		if s.Guests[name] == nil {
			s.Close(ctx)
			return nil, fmt.Errorf("builtin: no built-in guest %q", name)
		}
	}
	return s, nil
}

func wanted(only []string, name string) bool {
	if len(only) == 0 {
		return true
	}
	for _, n := range only {
		if n == name {
			return true
		}
	}
	return false
}

// Close closes the guests and their engine.
func (s *Set) Close(ctx context.Context) error {
	for _, l := range s.Guests {
		l.Close(ctx)
	}
	return s.engine.Close(ctx)
}
