package gpu

import (
	"context"
	"fmt"

	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// MethodNames are the gpu library's methods.
var MethodNames = [...]string{"compile_wgsl", "execute_shader", "saxpy", "matmul", "grayscale"}

// Unavailable returns the library "gpu" of a node that could not open it:
// its methods exist, and every job fails at once with libraryUnavailable
// and why (err: Open's error), instead of unknownLibrary.
func Unavailable(err error) kernel.Library { return unavailable{err: err} }

type unavailable struct{ err error }

func (unavailable) Name() string { return "gpu" }

func (u unavailable) Methods() map[string]kernel.Method {
	ms := make(map[string]kernel.Method, len(MethodNames))
	for _, name := range MethodNames {
		ms[name] = func(context.Context, *kernel.Job) (schema.Ref, error) {
			return schema.Ref{}, &kernel.Error{Kind: schema.ErrorUnavailable, Msg: fmt.Sprintf("gpu.%s: %v", name, u.err)}
		}
	}
	return ms
}
