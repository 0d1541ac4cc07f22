package gpu_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/inos-node/node/gpu"
)

// Without a webgpu library Open fails with an *UnavailableError that says
// why, and the node serves without the library.
func TestOpenUnavailable(t *testing.T) {
	_, err := gpu.Open(context.Background(), gpu.Options{LibPath: "/nonexistent/libwebgpu_missing.so"})
	if !errors.Is(err, gpu.ErrUnavailable) {
		t.Fatalf("Open: %v, want an error matching gpu.ErrUnavailable", err)
	}
	var ue *gpu.UnavailableError
	if !errors.As(err, &ue) || ue.Reason == "" {
		t.Fatalf("Open: %v (%T), want an *UnavailableError with a reason", err, err)
	}
	// Built with cgo, the reason is dlopen's (or, when a test of this binary
	// loaded the real library first, that another one is loaded).
	want := "libwebgpu_missing.so"
	if !cgoEnabled() {
		want = "built without cgo"
	}
	if !strings.Contains(err.Error(), want) && !strings.Contains(err.Error(), "another webgpu library is loaded") {
		t.Fatalf("Open: %q does not say why (%q)", err, want)
	}
	t.Logf("%v", err)

	// No path and no WEBGPU_LIB: the system's search path is tried.
	t.Setenv("WEBGPU_LIB", "")
	_, err = gpu.Open(context.Background(), gpu.Options{})
	if !errors.Is(err, gpu.ErrUnavailable) {
		t.Fatalf("Open without a path: %v, want an error matching gpu.ErrUnavailable", err)
	}
	t.Logf("%v", err)
}

func TestOpenBadBackend(t *testing.T) {
	_, err := gpu.Open(context.Background(), gpu.Options{Backend: "glide", LibPath: "/nonexistent/x.so"})
	want := "glide"
	if !cgoEnabled() {
		want = "built without cgo"
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open with backend glide: %v, want an error naming %q", err, want)
	}
}
