package metrics

import (
	"time"

	"github.com/inos-node/node/kernel"
)

// NewRecorderClock is NewRecorder with a clock, for tests.
func NewRecorderClock(methods []kernel.MethodInfo, now func() time.Time) *Recorder {
	return newRecorder(methods, now)
}

// NewLogWriterClock is NewLogWriter with a clock, for tests.
func NewLogWriterClock(dir, name string, opts LogOptions, now func() time.Time) (*LogWriter, error) {
	return newLogWriter(dir, name, opts, now)
}
