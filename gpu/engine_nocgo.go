//go:build !cgo

package gpu

import "time"

// Without cgo there is no binding: Open reports the library unavailable.
type engine struct{ info AdapterInfo }

var errNoCgo = &UnavailableError{Reason: "built without cgo (the webgpu.h binding needs it: CGO_ENABLED=1)"}

func openEngine(Options, Limits) (*engine, error) { return nil, errNoCgo }

// The methods below are never reached: there is no engine to call them on.

func (*engine) close()                                              {}
func (*engine) count(error)                                         {}
func (*engine) statsNow() Stats                                     { return Stats{} }
func (*engine) maxBuffer(Limits) uint64                             { return 0 }
func (*engine) maxWorkgroupsPerDim() uint32                         { return 0 }
func (*engine) maxStorageBuffers() uint32                           { return 0 }
func (*engine) run(*dispatch) error                                 { return errNoCgo }
func (*engine) compile(string, time.Time) ([]CompileMessage, error) { return nil, errNoCgo }

func (*engine) benchDispatch(int) (BenchResult, error)               { return BenchResult{}, errNoCgo }
func (*engine) benchTransfer(uint64, int, bool) (BenchResult, error) { return BenchResult{}, errNoCgo }
func (*engine) benchSaxpy(uint64, int, int) (BenchResult, error)     { return BenchResult{}, errNoCgo }
func (*engine) benchMatmul(uint32, uint32, uint32, int, int) (BenchResult, error) {
	return BenchResult{}, errNoCgo
}
