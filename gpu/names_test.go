//go:build webgpu

package gpu_test

import (
	"slices"
	"testing"

	"github.com/inos-node/node/gpu"
)

// TestMethodNames: the unavailable library offers the methods the real one
// has.
func TestMethodNames(t *testing.T) {
	l := open(t, gpu.Limits{})
	var got []string
	for name := range l.Methods() {
		got = append(got, name)
	}
	want := gpu.MethodNames[:]
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Fatalf("methods %v, MethodNames %v", got, want)
	}
}
