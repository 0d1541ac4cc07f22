package kernel_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/inos-node/node/client"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// upper is a host-side library: method "upper" writes the upper-cased input
// into the output space the producer reserved.
type upper struct{}

func (upper) Name() string { return "text" }
func (upper) Methods() map[string]kernel.Method {
	return map[string]kernel.Method{"upper": func(_ context.Context, j *kernel.Job) (schema.Ref, error) {
		if len(j.Output) < len(j.Input) {
			return schema.Ref{}, &kernel.Error{Kind: schema.ErrorOutputTooLarge, Msg: "output space smaller than the input"}
		}
		for i, b := range j.Input {
			if 'a' <= b && b <= 'z' {
				b -= 'a' - 'A'
			}
			j.Output[i] = b
		}
		return schema.Ref{Offset: j.OutputRef.Offset, Length: uint64(len(j.Input))}, nil
	}}
}

// A node serves any library that implements kernel.Library.
func ExampleLibrary() {
	libs, _ := kernel.NewRegistry(kernel.Echo{}, upper{})
	node, err := kernel.New(kernel.Config{Region: "example-kernel", MaxProducers: 2, HeapBytes: 4 << 20,
		Libraries: libs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Close()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go node.Run(ctx)

	c, err := client.Attach("example-kernel", client.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	in, _ := c.Alloc(11)
	copy(in.Bytes, "shared page")
	out, _ := c.Alloc(11)
	res, err := c.Call(ctx, client.Job{Library: "text", Method: "upper", Input: in.Ref, Output: out.Ref})
	if err != nil || res.Err() != nil {
		fmt.Println(err, res.Err())
		return
	}
	fmt.Printf("%s\n", res.Output.Bytes)
	// Output: SHARED PAGE
}
