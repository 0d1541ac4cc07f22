package kernel

import "github.com/inos-node/node/schema"

// Observer is told about every job the node answers, for metrics, SLOs
// and circuit breakers. Observe runs on the dispatcher's goroutine after
// the result is published: it must be quick and must not block (record,
// count, hand off), and it must not keep e.
type Observer interface {
	Observe(e *JobEvent)
}

// Gate decides, before a job's method runs, whether its library takes it
// now (a circuit breaker). Admit runs on the dispatcher's goroutine; a
// non-nil *Error refuses the job with that error at once.
type Gate interface {
	Admit(m MethodID) *Error
}

// MethodID numbers the registry's methods densely from 0 in the order
// Registry.Methods returns them, so that observers can keep per-method
// state in slices; NoMethod marks a job refused before its method was
// known (a bad envelope, an unknown library or method).
type MethodID int

// NoMethod is the MethodID of a job that named no known method.
const NoMethod MethodID = -1

// MethodInfo names a registered method.
type MethodInfo struct {
	ID      MethodID
	Library string
	Method  string
}

// JobEvent is one answered job. Times are in nanoseconds.
type JobEvent struct {
	Method MethodID // NoMethod if the job named no known method
	// Library and Method name it (the registry's strings: no allocation);
	// empty for NoMethod.
	Library, MethodName string
	Kind                schema.ErrorKind // ErrorNone: success
	// QueueNs is from the producer's submit time to the start of
	// execution, ExecNs the execution, TotalNs from submit to the result's
	// publication (0 when the producer gave no submit time).
	QueueNs, ExecNs, TotalNs uint64
	// Ran says whether the method was called: false for a job refused
	// before (a bad envelope, an unknown method, a deadline that passed in
	// the queue, an open breaker), whose error is not the library's doing.
	Ran                     bool
	FuelUsed                uint64
	InputBytes, OutputBytes uint64
}

// Observers fans an event out to several observers, in order.
type Observers []Observer

// Observe calls each observer.
func (os Observers) Observe(e *JobEvent) {
	for _, o := range os {
		o.Observe(e)
	}
}
