package breaker_test

import (
	"fmt"
	"time"

	"github.com/inos-node/node/breaker"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// A library whose jobs keep failing is refused for a cooldown, then tried
// again with one trial job.
func Example() {
	now := time.Unix(0, 0)
	methods := []kernel.MethodInfo{{ID: 0, Library: "img", Method: "resize"}}
	br := breaker.New(methods, breaker.Config{
		Clock: func() time.Time { return now },
		OnChange: func(lib string, from, to breaker.State) {
			fmt.Printf("breaker %s: %v → %v\n", lib, from, to)
		},
	})
	// The node calls Admit before each job's method runs, Observe after.
	job := func(kind schema.ErrorKind) {
		if err := br.Admit(0); err != nil {
			fmt.Println("refused:", err.Msg)
			kind = err.Kind
		}
		br.Observe(&kernel.JobEvent{Method: 0, Library: "img", MethodName: "resize", Kind: kind, Ran: true})
	}
	for i := range 12 {
		if i%5 < 2 {
			job(schema.ErrorNone)
		} else {
			job(schema.ErrorLibraryFailed) // the 6th failure in 10 jobs opens it
		}
	}
	now = now.Add(2700 * time.Millisecond)
	job(schema.ErrorNone)
	now = now.Add(10 * time.Second)
	job(schema.ErrorNone) // the trial
	for _, s := range br.Stats() {
		fmt.Printf("%s: %v, opened %d times, refused %d jobs\n", s.Library, s.State, s.Opens, s.Refused)
	}
	// Output:
	// breaker img: closed → open
	// refused: library "img" is unavailable: its circuit breaker opened after 6 of the last 10 jobs failed; retrying in 10s
	// refused: library "img" is unavailable: its circuit breaker opened after 6 of the last 10 jobs failed; retrying in 10s
	// refused: library "img" is unavailable: its circuit breaker opened after 6 of the last 10 jobs failed; retrying in 7.3s
	// breaker img: open → half-open
	// breaker img: half-open → closed
	// img: closed, opened 1 times, refused 3 jobs
}
