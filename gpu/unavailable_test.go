package gpu_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/inos-node/node/gpu"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// TestUnavailableLibrary: a node without a GPU serves the library "gpu"
// whose every method says why it is unavailable.
func TestUnavailableLibrary(t *testing.T) {
	l := gpu.Unavailable(&gpu.UnavailableError{Reason: "no Vulkan adapter"})
	ms := l.Methods()
	if l.Name() != "gpu" || len(ms) != len(gpu.MethodNames) {
		t.Fatalf("library %q with %d methods", l.Name(), len(ms))
	}
	for name, m := range ms {
		_, err := m(context.Background(), &kernel.Job{})
		var ke *kernel.Error
		if !errors.As(err, &ke) || ke.Kind != schema.ErrorUnavailable || !strings.Contains(ke.Msg, "no Vulkan adapter") {
			t.Fatalf("%s: %v, want libraryUnavailable with the reason", name, err)
		}
	}
}
