package sandbox

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// module assembles a wasm module from raw sections (id, payload).
func module(sections ...[]byte) []byte {
	m := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	for _, s := range sections {
		m = append(m, s[0])
		m = appendU32(m, uint32(len(s)-1))
		m = append(m, s[1:]...)
	}
	return m
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func name(s string) []byte { return append(appendU32(nil, uint32(len(s))), s...) }

// importing returns a module importing one function of type () -> ().
func importing(mod, fn string) []byte {
	types := []byte{1, 1, 0x60, 0, 0}
	imp := append([]byte{2, 1}, name(mod)...)
	imp = append(imp, name(fn)...)
	imp = append(imp, 0, 0) // func, type 0
	return module(types, imp)
}

func TestLoadChecksImports(t *testing.T) {
	ctx := context.Background()
	e, err := NewEngine(ctx, "", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	lim := ImageLimits()

	if _, err := e.Load(ctx, "ok", importing("wasi_snapshot_preview1", "fd_write"), lim); err != nil {
		t.Fatalf("allowed import refused: %v", err)
	}
	_, err = e.Load(ctx, "image", importing("wasi_snapshot_preview1", "sock_accept"), lim)
	var ie *ImportError
	if !errors.Is(err, ErrForbiddenImport) || !errors.As(err, &ie) || ie.Name != "sock_accept" || !strings.Contains(err.Error(), "wasi_snapshot_preview1.sock_accept") {
		t.Fatalf("forbidden import: %v", err)
	}
	t.Log(err)

	// A memory imported from the host: guests own their memory.
	mem := append([]byte{2, 1}, name("env")...)
	mem = append(mem, name("memory")...)
	mem = append(mem, 2, 0, 1) // memory, limits min 1
	if _, err := e.Load(ctx, "image", module(mem), lim); !errors.Is(err, ErrForbiddenImport) {
		t.Fatalf("imported memory: %v", err)
	}
	// The fuel hook's own name cannot be smuggled in by the guest to reach
	// another host function: it is the only inos import the pass adds.
	if _, err := e.Load(ctx, "image", importing("inos", "read_secrets"), lim); !errors.Is(err, ErrForbiddenImport) {
		t.Fatalf("other inos import: %v", err)
	}
}

func TestLoadRefusesHostileModules(t *testing.T) {
	ctx := context.Background()
	e, err := NewEngine(ctx, "", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	// Declares 2^31 imports in a few bytes: wazero alone would try to
	// allocate for them and the process would die.
	huge := module([]byte{1, 1, 0x60, 0, 0}, append([]byte{2}, appendU32(nil, 1<<31)...))
	for name, wasm := range map[string][]byte{
		"2^31 imports":   huge,
		"truncated":      importing("wasi_snapshot_preview1", "fd_write")[:20],
		"not wasm":       []byte("hello, node"),
		"empty":          nil,
		"bad type index": module([]byte{1, 1, 0x60, 0, 0}, []byte{3, 1, 7}),
	} {
		if _, err := e.Load(ctx, "x", wasm, ImageLimits()); !errors.Is(err, ErrInvalidModule) {
			t.Errorf("%s: %v, want ErrInvalidModule", name, err)
		}
	}
	if _, err := e.Load(ctx, "x", importing("wasi_snapshot_preview1", "fd_write"), Limits{MaxMemoryPages: 1 << 20}); err == nil {
		t.Error("limits above the engine's memory cap accepted")
	}
}

// TestLoadGoGuest builds a real Go wasip1 guest and loads it with the Go
// guest imports, then without fd_write: refused, naming the import.
func TestLoadGoGuest(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go toolchain not on PATH: cannot build a guest")
	}
	dir := t.TempDir()
	src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"guest\") }\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module guest\n\ngo 1.26\n"), 0o644)
	cmd := exec.Command(gobin, "build", "-o", "g.wasm", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the guest: %v\n%s", err, out)
	}
	wasm, _ := os.ReadFile(filepath.Join(dir, "g.wasm"))

	ctx := context.Background()
	cache := t.TempDir()
	e, err := NewEngine(ctx, cache, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	m, err := e.Load(ctx, "hello", wasm, ImageLimits())
	if err != nil {
		t.Fatalf("Go guest with the Go guest imports: %v", err)
	}
	if entries, _ := os.ReadDir(cache); len(entries) == 0 {
		t.Error("compilation cache left empty")
	}
	_ = m
	lim := ImageLimits()
	lim.Imports = slicesWithout(lim.Imports, "wasi_snapshot_preview1.fd_write")
	_, err = e.Load(ctx, "hello", wasm, lim)
	var ie *ImportError
	if !errors.As(err, &ie) || ie.Name != "fd_write" {
		t.Fatalf("without fd_write: %v", err)
	}
}

func slicesWithout(s []string, drop string) []string {
	var out []string
	for _, x := range s {
		if x != drop {
			out = append(out, x)
		}
	}
	return out
}
