package kernel

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/inos-node/node/schema"
	"github.com/inos-node/node/shm"
)

// Job is what a library method receives. The Job and its slices are only
// valid during the call (the node reuses them): Params is the node's private copy of the validated JSON; Input
// and Output are views of shared memory, where the producer wrote the input
// and reserved the output (a producer can still change Input under you;
// treat it as untrusted bytes).
type Job struct {
	ID        uint64
	Library   string
	Method    string
	Params    []byte
	Input     []byte
	InputRef  schema.Ref
	Output    []byte
	OutputRef schema.Ref
	Deadline  time.Time // zero: none
	Limits    schema.JobLimits

	// InputBlock and OutputBlock are the producer's arena blocks (region
	// offsets, pinned for the job) that hold InputRef and OutputRef: a
	// library may map whole pages inside them, never pages beyond them,
	// which may belong to another producer.
	InputBlock, OutputBlock schema.Ref
	// Region is the node's shared region (its file, for mapping pages).
	Region *shm.Region

	// FuelUsed is set by a metered library (a sandboxed guest), also when
	// the job fails; the node reports it in JobResult.fuelUsed.
	FuelUsed uint64
}

// Method runs one job and returns the reference of its output, which must
// lie in the producer's memory (usually inside job.OutputRef, or the input
// itself). An error of type *Error keeps its kind; any other error is
// reported as ErrorLibraryFailed.
type Method func(ctx context.Context, job *Job) (schema.Ref, error)

// Library is a named set of methods. Host-side libraries implement it
// directly; sandboxed guests are served through the same interface.
type Library interface {
	Name() string
	Methods() map[string]Method
}

// Error is an error with a JobResult error kind.
type Error struct {
	Kind schema.ErrorKind
	Msg  string
	// OutputNeeded, with Kind outputTooLarge, is the size the output needs
	// if the library knows it (0 if not); the node reports it in
	// JobResult.outputNeeded.
	OutputNeeded uint64
}

func (e *Error) Error() string { return e.Kind.String() + ": " + e.Msg }

func errorf(kind schema.ErrorKind, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

type method struct {
	id      MethodID
	library string
	name    string
	fn      Method
}

// Registry maps library and method names to methods. It is built before the
// node starts and read-only afterwards.
type Registry struct {
	libs    map[string]map[string]method
	methods []MethodInfo
}

// NewRegistry returns a registry holding libs.
func NewRegistry(libs ...Library) (*Registry, error) {
	r := &Registry{libs: map[string]map[string]method{}}
	for _, l := range libs {
		if err := r.Add(l); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add registers l; a second library of the same name is an error.
func (r *Registry) Add(l Library) error {
	name := l.Name()
	if _, dup := r.libs[name]; dup {
		return fmt.Errorf("kernel: library %q registered twice", name)
	}
	fns := l.Methods()
	names := make([]string, 0, len(fns))
	for m := range fns {
		names = append(names, m)
	}
	sort.Strings(names)
	ms := map[string]method{}
	for _, m := range names {
		id := MethodID(len(r.methods))
		ms[m] = method{id: id, library: name, name: m, fn: fns[m]}
		r.methods = append(r.methods, MethodInfo{ID: id, Library: name, Method: m})
	}
	r.libs[name] = ms
	return nil
}

// Methods returns every registered method, in MethodID order.
func (r *Registry) Methods() []MethodInfo { return append([]MethodInfo(nil), r.methods...) }

// Libraries returns the registered library names, sorted.
func (r *Registry) Libraries() []string {
	out := make([]string, 0, len(r.libs))
	for n := range r.libs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// lookup finds a method by the names' bytes without allocating.
func (r *Registry) lookup(lib, meth []byte) (method, *Error) {
	ms, ok := r.libs[string(lib)]
	if !ok {
		return method{}, errorf(schema.ErrorUnknownLibrary, "no library %q", lib)
	}
	m, ok := ms[string(meth)]
	if !ok {
		return method{}, errorf(schema.ErrorUnknownMethod, "library %q has no method %q", lib, meth)
	}
	return m, nil
}

// Echo is the host-side library "echo": method "echo" returns its input
// reference as its output, touching no byte. Tests and benchmarks use it to
// measure the transport alone.
type Echo struct{}

func (Echo) Name() string { return "echo" }
func (Echo) Methods() map[string]Method {
	return map[string]Method{"echo": func(_ context.Context, j *Job) (schema.Ref, error) { return j.InputRef, nil }}
}

// Noop is the host-side library "noop": method "noop" does nothing and has
// no output.
type Noop struct{}

func (Noop) Name() string { return "noop" }
func (Noop) Methods() map[string]Method {
	return map[string]Method{"noop": func(context.Context, *Job) (schema.Ref, error) { return schema.Ref{}, nil }}
}
