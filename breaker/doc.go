// Package breaker keeps one circuit breaker per library, so that a library
// that keeps failing is taken offline for a while instead of burning every
// job sent to it, and is tried again, one job at a time, after a cooldown.
//
// A *Set is both a kernel.Gate and a kernel.Observer; install the same Set
// as both (kernel.Observers fans events out to several observers):
//
//	br := breaker.New(registry.Methods(), breaker.Config{})
//	cfg.Gate = br
//	cfg.Observer = kernel.Observers{metrics, br}
//
// # States
//
//	         failures ≥ FailureRate of the window,
//	         window holds ≥ MinJobs outcomes
//	closed ────────────────────────────────────────▶ open
//	  ▲                                              │  ▲
//	  │ the trial job succeeds                       │  │ the trial job fails
//	  │ (window cleared)              Cooldown passed│  │ (new Cooldown)
//	  │                    (at the next Admit)       ▼  │
//	  └────────────────────────────────────────── half-open
//
// Closed admits every job and counts the outcomes of the last Window jobs.
// Open refuses every job with a *kernel.Error of kind
// schema.ErrorUnavailable whose message gives the numbers, for example
//
//	library "img" is unavailable: its circuit breaker opened after 12 of the last 20 jobs failed; retrying in 7.3s
//
// Half-open admits exactly one trial job at a time and refuses the others
// ("...; a trial job is running"). The trial's success closes the breaker
// with an empty window; its failure opens it again for a new Cooldown. A
// trial that ends in a client error (below) proves nothing: the next job
// becomes the trial. There are no timers: open becomes half-open at the
// first Admit after Cooldown, so States reports "open" until a job comes
// (LibraryState.RetryIn is then 0).
//
// # What counts
//
// Classify is the one classification, also meant for SLO accounting:
//
//   - Success: the job succeeded (schema.ErrorNone).
//   - Failure, the library's fault: libraryFailed, deadlineExceeded,
//     resourceExhausted, internal.
//   - Neutral, the client's fault: invalidEnvelope, invalidParams,
//     unknownLibrary, unknownMethod, invalidReference, inputTooLarge,
//     outputTooLarge, invalidInput; and libraryUnavailable, which is the
//     breaker's own refusal (counting it would keep a breaker open
//     forever). Kinds this package does not know are neutral too.
//
// Neutral outcomes count as neither success nor failure and do not enter
// the window: a flood of bad requests says nothing about the library's
// health, so it must not take a healthy library offline (as failures), nor
// dilute the failures of a broken one until they no longer reach the
// threshold (as successes).
//
// # Concurrency and cost
//
// Admit and Observe are meant for the dispatcher goroutine; they are safe
// from any goroutine, as are States and Stats. Each library has its own
// mutex; Admit on a closed breaker takes no lock (one atomic load), Observe
// takes its library's lock briefly, and neither reads the clock unless the
// state changes nor allocates. Methods find their library's breaker through
// a slice indexed by kernel.MethodID.
//
// The *kernel.Error that Admit returns is shared between refusals (it is
// rebuilt only when the message changes, at most every 100 ms): callers
// must not modify it. Config.OnChange is called on the goroutine that
// caused the change, after the library's lock is released, so it may call
// Stats; it must be quick.
//
// The breaker pairs an outcome with its trial job by order: in half-open,
// the first counted outcome observed for the library after the trial was
// admitted decides. That is exact for the node's dispatcher, which admits,
// runs and observes one job at a time. A trial whose outcome never comes
// (a Set installed as Gate but not as Observer) is given up after Cooldown
// and another job becomes the trial, so a library is never shut out for
// good.
package breaker
