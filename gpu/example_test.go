//go:build webgpu

package gpu_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/inos-node/node/gpu"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// The library serves jobs through kernel.Library; here a method is called
// directly, as the node's dispatcher calls it.
func Example() {
	l, err := gpu.Open(context.Background(), gpu.Options{}) // $WEBGPU_LIB
	if err != nil {
		fmt.Println(err) // the node logs it and serves without "gpu"
		return
	}
	defer l.Close()

	// saxpy: 2·x + y, x = [1 2 3], y = [10 20 30].
	in := make([]byte, 0, 24)
	for _, v := range []float32{1, 2, 3, 10, 20, 30} {
		in = binary.LittleEndian.AppendUint32(in, math.Float32bits(v))
	}
	j := &kernel.Job{Params: []byte(`{"a":2}`), Input: in, Output: make([]byte, 12),
		OutputRef: schema.Ref{Offset: 0, Length: 12}}
	ref, err := l.Methods()["saxpy"](context.Background(), j)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := uint64(0); i < ref.Length; i += 4 {
		fmt.Print(math.Float32frombits(binary.LittleEndian.Uint32(j.Output[i:])), " ")
	}
	fmt.Println()
	// Output: 12 24 36
}
