package client_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/inos-node/node/client"
	"github.com/inos-node/node/kernel"
)

// A producer attaches to a node's region, writes its input straight into
// shared memory, and gets back a reference to the output: no byte of the
// input is copied on the way.
func Example() {
	// A node serving region "example" (usually `inos run --region example`
	// in another process).
	node, err := kernel.New(kernel.Config{Region: "example-client", MaxProducers: 2, HeapBytes: 4 << 20,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Close()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go node.Run(ctx)

	c, err := client.Attach("example-client", client.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	in, _ := c.Alloc(5)
	copy(in.Bytes, "hello")
	res, err := c.Call(ctx, client.Job{Library: "echo", Method: "echo", Params: []byte(`{}`), Input: in.Ref})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s, same bytes: %v\n", res.Output.Bytes, res.Output.Ref == in.Ref)

	res, _ = c.Call(ctx, client.Job{Library: "echo", Method: "nope"})
	fmt.Println(res.Err())
	// Output:
	// hello, same bytes: true
	// job 2: unknownMethod: library "echo" has no method "nope"
}
