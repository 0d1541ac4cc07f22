package breaker

import (
	"cmp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// State is a breaker's state.
type State uint32

// The states of a breaker.
const (
	Closed   State = iota // jobs run; outcomes are counted
	Open                  // jobs are refused until the cooldown has passed
	HalfOpen              // one trial job at a time runs; the others are refused
)

// String returns "closed", "open" or "half-open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Outcome is what a job's result says about its library's health.
type Outcome int8

// The outcomes of Classify.
const (
	Neutral Outcome = iota // the client's fault, or the breaker's refusal: not counted
	Success
	Failure // the library's fault
)

// String returns "neutral", "success" or "failure".
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	}
	return "neutral"
}

// Classify tells whether a job that ended with kind counts for or against
// its library (see the package documentation).
func Classify(kind schema.ErrorKind) Outcome {
	switch kind {
	case schema.ErrorNone:
		return Success
	case schema.ErrorLibraryFailed, schema.ErrorDeadlineExceeded, schema.ErrorResourceExhausted, schema.ErrorInternal:
		return Failure
	}
	return Neutral
}

// Defaults of Config.
const (
	DefaultWindow      = 20
	DefaultMinJobs     = 10
	DefaultFailureRate = 0.5
	DefaultCooldown    = 10 * time.Second
)

// Config tunes every breaker of a Set. Zero fields take the defaults.
type Config struct {
	// Window is how many of a library's latest counted outcomes are kept;
	// default 20.
	Window int
	// MinJobs is how many outcomes the window must hold before the breaker
	// may open; default 10, at most Window.
	MinJobs int
	// FailureRate opens the breaker when failures/outcomes in the window
	// reach it; default 0.5. Values above 1 mean 1 (all must fail).
	FailureRate float64
	// Cooldown is how long an open breaker refuses jobs before it tries
	// one; default 10 s.
	Cooldown time.Duration
	// Clock tells the time; default time.Now.
	Clock func() time.Time
	// OnChange, if set, is told of every state change (for logs and
	// metrics). It runs on the goroutine that caused the change, outside
	// the breaker's lock, and must be quick.
	OnChange func(library string, from, to State)
}

func (c Config) withDefaults() Config {
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.MinJobs <= 0 {
		c.MinJobs = DefaultMinJobs
	}
	c.MinJobs = min(c.MinJobs, c.Window)
	if c.FailureRate <= 0 {
		c.FailureRate = DefaultFailureRate
	}
	c.FailureRate = min(c.FailureRate, 1)
	if c.Cooldown <= 0 {
		c.Cooldown = DefaultCooldown
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

// Set is the circuit breakers of a node's libraries, one per library. It
// implements kernel.Gate and kernel.Observer.
type Set struct {
	cfg   Config
	libOf []int32 // MethodID → index in libs, -1 for none
	libs  []breaker
}

var (
	_ kernel.Gate     = (*Set)(nil)
	_ kernel.Observer = (*Set)(nil)
)

// breaker is one library's breaker.
//
// Invariants (under mu): st mirrors state; probing only in HalfOpen;
// retryAt is meaningful in Open; refusal, when non-nil, is the message for
// the current state and refusalKey.
type breaker struct {
	name string
	// state is written under mu and read without it by Admit's fast path.
	state atomic.Uint32

	mu      sync.Mutex
	st      State
	win     window
	retryAt time.Time // Open: when the next trial may run
	probing bool      // HalfOpen: a trial job is running
	probeAt time.Time // when it was admitted
	// Why the breaker last opened: failures of jobs in the window, or
	// jobs == 0 when a trial job failed (lastFail its kind).
	openFails, openJobs int
	lastFail            schema.ErrorKind

	opens, refused uint64

	refusal    *kernel.Error // cached; shared by refusals, never modified
	refusalKey int64         // 100 ms steps left (open), -1 (half-open)
}

// New returns the breakers of the libraries that methods name (usually
// kernel.Registry.Methods), all closed. A method's MethodID indexes a slice,
// so IDs should be dense, as the registry numbers them.
func New(methods []kernel.MethodInfo, cfg Config) *Set {
	cfg = cfg.withDefaults()
	s := &Set{cfg: cfg}
	byName := map[string]int32{}
	maxID := kernel.MethodID(-1)
	for _, m := range methods {
		maxID = max(maxID, m.ID)
		if _, ok := byName[m.Library]; !ok {
			byName[m.Library] = int32(len(byName))
		}
	}
	s.libs = make([]breaker, len(byName))
	outcomes := make([]bool, len(byName)*cfg.Window)
	for name, i := range byName {
		b := &s.libs[i]
		b.name = name
		b.win.fail = outcomes[int(i)*cfg.Window : int(i+1)*cfg.Window : int(i+1)*cfg.Window]
	}
	s.libOf = make([]int32, maxID+1)
	for i := range s.libOf {
		s.libOf[i] = -1
	}
	for _, m := range methods {
		if m.ID >= 0 {
			s.libOf[m.ID] = byName[m.Library]
		}
	}
	return s
}

// lib returns method m's breaker, or nil.
func (s *Set) lib(m kernel.MethodID) *breaker {
	if uint(m) >= uint(len(s.libOf)) {
		return nil
	}
	i := s.libOf[m]
	if i < 0 {
		return nil
	}
	return &s.libs[i]
}

// Admit lets a job of method m run (nil) or refuses it with an error of
// kind schema.ErrorUnavailable. Methods the Set does not know are admitted.
// The returned error is shared: do not modify it.
func (s *Set) Admit(m kernel.MethodID) *kernel.Error {
	b := s.lib(m)
	if b == nil || State(b.state.Load()) == Closed {
		return nil
	}
	return s.admitSlow(b)
}

func (s *Set) admitSlow(b *breaker) *kernel.Error {
	b.mu.Lock()
	now := s.cfg.Clock()
	switch b.st {
	case Closed:
		b.mu.Unlock()
		return nil
	case Open:
		if !now.Before(b.retryAt) {
			b.set(HalfOpen)
			b.probing, b.probeAt = true, now
			b.mu.Unlock()
			s.changed(b.name, Open, HalfOpen)
			return nil
		}
	case HalfOpen:
		// A trial whose outcome never came is given up after Cooldown.
		if !b.probing || now.Sub(b.probeAt) >= s.cfg.Cooldown {
			b.probing, b.probeAt = true, now
			b.mu.Unlock()
			return nil
		}
	}
	b.refused++
	err := b.refuse(now)
	b.mu.Unlock()
	return err
}

// Observe counts a job's outcome for its library.
func (s *Set) Observe(e *kernel.JobEvent) {
	b := s.lib(e.Method)
	if b == nil || e.Kind == schema.ErrorUnavailable {
		return // no library, or our own refusal
	}
	o := Classify(e.Kind)
	if !e.Ran {
		o = Neutral // refused before its method ran (a deadline that passed in the queue): not the library's doing
	}
	if o == Neutral && State(b.state.Load()) == Closed {
		return
	}
	b.mu.Lock()
	from := b.st
	switch b.st {
	case Closed:
		if o == Neutral {
			break
		}
		b.win.push(o == Failure)
		if o == Failure && b.win.n >= s.cfg.MinJobs && float64(b.win.fails) >= s.cfg.FailureRate*float64(b.win.n) {
			b.open(s.cfg.Clock().Add(s.cfg.Cooldown), b.win.fails, b.win.n, e.Kind)
			b.opens++
		}
	case HalfOpen:
		if !b.probing {
			break // not the trial's (a job admitted before the breaker opened)
		}
		b.probing = false
		switch o {
		case Success:
			b.win.reset()
			b.set(Closed)
		case Failure:
			b.open(s.cfg.Clock().Add(s.cfg.Cooldown), 0, 0, e.Kind)
			b.opens++
		}
	}
	to := b.st
	b.mu.Unlock()
	if to != from {
		s.changed(b.name, from, to)
	}
}

func (s *Set) changed(lib string, from, to State) {
	if f := s.cfg.OnChange; f != nil {
		f(lib, from, to)
	}
}

// set changes the state (under mu).
func (b *breaker) set(st State) {
	b.st = st
	b.state.Store(uint32(st))
	b.refusal = nil
}

// open opens the breaker until retryAt because fails of jobs failed (jobs
// == 0: a trial job failed with kind).
func (b *breaker) open(retryAt time.Time, fails, jobs int, kind schema.ErrorKind) {
	b.set(Open)
	b.retryAt = retryAt
	b.probing = false
	b.openFails, b.openJobs, b.lastFail = fails, jobs, kind
}

// reason says why the breaker opened, after "its circuit breaker ".
func (b *breaker) reason(dst []byte) []byte {
	if b.openJobs == 0 {
		dst = append(dst, "reopened after a trial job failed ("...)
		dst = append(dst, b.lastFail.String()...)
		return append(dst, ')')
	}
	dst = append(dst, "opened after "...)
	dst = strconv.AppendInt(dst, int64(b.openFails), 10)
	dst = append(dst, " of the last "...)
	dst = strconv.AppendInt(dst, int64(b.openJobs), 10)
	return append(dst, " jobs failed"...)
}

const refusalStep = 100 * time.Millisecond

// refuse returns the refusal for now (under mu), rebuilding the cached one
// when its message changes.
func (b *breaker) refuse(now time.Time) *kernel.Error {
	key := int64(-1)
	if b.st == Open {
		key = int64((b.retryAt.Sub(now) + refusalStep - 1) / refusalStep) // round up: never "in 0s"
	}
	if b.refusal != nil && b.refusalKey == key {
		return b.refusal
	}
	msg := make([]byte, 0, 128)
	msg = append(msg, "library "...)
	msg = strconv.AppendQuote(msg, b.name)
	msg = append(msg, " is unavailable: its circuit breaker "...)
	msg = b.reason(msg)
	if key < 0 {
		msg = append(msg, "; a trial job is running"...)
	} else {
		msg = append(msg, "; retrying in "...)
		msg = append(msg, (time.Duration(key) * refusalStep).String()...)
	}
	b.refusal = &kernel.Error{Kind: schema.ErrorUnavailable, Msg: string(msg)}
	b.refusalKey = key
	return b.refusal
}

// States returns every library's state.
func (s *Set) States() map[string]State {
	out := make(map[string]State, len(s.libs))
	for i := range s.libs {
		b := &s.libs[i]
		out[b.name] = State(b.state.Load())
	}
	return out
}

// LibraryState is one library's breaker, for metrics and inos stats.
type LibraryState struct {
	Library string
	State   State
	// Opens counts closed/half-open → open changes; Refused counts the
	// jobs refused.
	Opens, Refused uint64
	// Failures and Jobs are the window's counted outcomes now.
	Failures, Jobs int
	// RetryIn, while open, is the time left before a trial job may run
	// (0: the next job will be one).
	RetryIn time.Duration
	// Reason, while open or half-open, says why, e.g. "opened after 12 of
	// the last 20 jobs failed".
	Reason string
}

// Stats returns every library's breaker, sorted by library.
func (s *Set) Stats() []LibraryState {
	now := s.cfg.Clock()
	out := make([]LibraryState, 0, len(s.libs))
	for i := range s.libs {
		b := &s.libs[i]
		b.mu.Lock()
		ls := LibraryState{Library: b.name, State: b.st, Opens: b.opens, Refused: b.refused,
			Failures: b.win.fails, Jobs: b.win.n}
		if b.st != Closed {
			ls.Reason = string(b.reason(nil))
		}
		if b.st == Open {
			ls.RetryIn = max(b.retryAt.Sub(now), 0)
		}
		b.mu.Unlock()
		out = append(out, ls)
	}
	slices.SortFunc(out, func(a, b LibraryState) int { return cmp.Compare(a.Library, b.Library) })
	return out
}

// window is a ring of the latest counted outcomes (true: failure).
type window struct {
	fail    []bool
	next, n int
	fails   int
}

func (w *window) push(failed bool) {
	if w.n == len(w.fail) {
		if w.fail[w.next] {
			w.fails--
		}
	} else {
		w.n++
	}
	w.fail[w.next] = failed
	if failed {
		w.fails++
	}
	if w.next++; w.next == len(w.fail) {
		w.next = 0
	}
}

func (w *window) reset() {
	clear(w.fail)
	w.next, w.n, w.fails = 0, 0, 0
}
