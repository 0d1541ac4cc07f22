package kernel

import (
	"math"
	"testing"
)

func TestWithin(t *testing.T) {
	const base, limit = 4096, 8192
	tests := []struct {
		off, size uint64
		want      bool
	}{
		{0, 0, true}, // the empty reference
		{base, 0, true},
		{base, limit, true},
		{base + limit, 0, true},
		{base + limit - 1, 1, true},
		{base + limit - 1, 2, false},
		{base - 1, 1, false},
		{base, limit + 1, false},
		{base + 10, math.MaxUint64, false}, // off+size would overflow
		{math.MaxUint64, 1, false},
		{math.MaxUint64 - 1, 2, false},
		{100, 0, false}, // empty but outside: refused too
	}
	for _, tc := range tests {
		if got := within(tc.off, tc.size, base, limit); got != tc.want {
			t.Errorf("within(%d, %d) = %v, want %v", tc.off, tc.size, got, tc.want)
		}
	}
}
