// Package guesttest builds the Go guests the sandbox's tests run
// (GOOS=wasip1 GOARCH=wasm), each once per test binary: the go build cache
// makes a rebuild cheap, but linking a wasm binary still takes a second or
// more. Only tests import it.
package guesttest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Mode is how a guest is built.
type Mode int

const (
	// Command: a wasip1 program whose main runs on start.
	Command Mode = iota
	// Reactor: -buildmode=c-shared; _initialize runs the package inits,
	// main never runs, //go:wasmexport functions are the entry points.
	Reactor
)

type key struct {
	what string // source text or absolute directory
	mode Mode
}

type result struct {
	wasm []byte
	err  error
}

var (
	mu    sync.Mutex
	built = map[key]result{}
)

// Source builds a guest from the text of one Go file (package main, the
// standard library only).
func Source(t testing.TB, src string, mode Mode) []byte {
	t.Helper()
	return get(t, key{src, mode}, func(dir string) (string, []string, error) {
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			return "", nil, err
		}
		return dir, []string{"main.go"}, nil
	})
}

// Dir builds, as a reactor, the package main in dir: a directory of this
// module (such as testdata/hostile), so it may import the guest SDK.
func Dir(t testing.TB, dir string) []byte {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return get(t, key{abs, Reactor}, func(string) (string, []string, error) { return abs, []string{"."}, nil })
}

// get returns the cached build of k, building it with the working directory
// and package arguments prepare returns (given a fresh temporary directory).
func get(t testing.TB, k key, prepare func(tmp string) (string, []string, error)) []byte {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to build the wasip1 test guests")
	}
	mu.Lock()
	defer mu.Unlock()
	r, ok := built[k]
	if !ok {
		r.wasm, r.err = build(gobin, k.mode, prepare)
		built[k] = r
	}
	if r.err != nil {
		t.Fatalf("building a test guest: %v", r.err)
	}
	return r.wasm
}

func build(gobin string, mode Mode, prepare func(tmp string) (string, []string, error)) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "inos-guest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dir, pkgs, err := prepare(tmp)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(tmp, "guest.wasm")
	args := []string{"build", "-o", out}
	if mode == Reactor {
		args = append(args, "-buildmode=c-shared")
	}
	cmd := exec.Command(gobin, append(args, pkgs...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, errors.New("go build: " + err.Error() + "\n" + string(msg))
	}
	return os.ReadFile(out)
}
