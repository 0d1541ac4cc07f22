package breaker

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// testMethods: library img has methods 0 (resize) and 1 (crop), library
// txt has method 2 (upper).
var testMethods = []kernel.MethodInfo{
	{ID: 0, Library: "img", Method: "resize"},
	{ID: 1, Library: "img", Method: "crop"},
	{ID: 2, Library: "txt", Method: "upper"},
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// harness drives a Set with a fake clock and records its changes.
type harness struct {
	t       *testing.T
	clock   *fakeClock
	set     *Set
	changes []string
}

func newHarness(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, clock: &fakeClock{t: time.Unix(1_700_000_000, 0)}}
	cfg.Clock = h.clock.Now
	cfg.OnChange = func(lib string, from, to State) {
		h.changes = append(h.changes, lib+":"+from.String()+">"+to.String())
	}
	h.set = New(testMethods, cfg)
	return h
}

var kindByName = func() map[string]schema.ErrorKind {
	m := map[string]schema.ErrorKind{"ok": schema.ErrorNone}
	for k := schema.ErrorKind(0); k < 32; k++ {
		if s := k.String(); s != "" {
			m[s] = k
		}
	}
	return m
}()

func methodArg(t *testing.T, args []string, i int) kernel.MethodID {
	if len(args) <= i {
		return 0
	}
	for _, m := range testMethods {
		if m.Library+"."+m.Method == args[i] {
			return m.ID
		}
	}
	t.Fatalf("no method %q", args[i])
	return 0
}

func (h *harness) event(m kernel.MethodID, kind schema.ErrorKind) *kernel.JobEvent {
	return &kernel.JobEvent{Method: m, Library: testMethods[m].Library, MethodName: testMethods[m].Method, Kind: kind, Ran: true}
}

// run executes one script line:
//
//	job KIND N [lib.method]    N jobs that must be admitted and end with KIND ("ok": success)
//	refused N [lib.method]     N jobs that must be refused (observed as libraryUnavailable, as the node does)
//	admit [lib.method]         one job that must be admitted; its outcome comes later
//	observe KIND [lib.method]  the outcome of an admitted job
//	wait DURATION              advance the clock
//	state LIB STATE            the library's state
//	refusal lib.method MSG...  the next job is refused with exactly MSG
//	changes [LIB:FROM>TO...]   the changes since the last check
//	stats LIB k=v...           opens, refused, jobs, failures, retry
func (h *harness) run(line string) {
	t := h.t
	t.Helper()
	f := strings.Fields(line)
	verb, args := f[0], f[1:]
	kind := func(s string) schema.ErrorKind {
		k, ok := kindByName[s]
		if !ok {
			t.Fatalf("%s: no kind %q", line, s)
		}
		return k
	}
	count := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return n
	}
	switch verb {
	case "job":
		k, n, m := kind(args[0]), count(args[1]), methodArg(t, args, 2)
		for i := range n {
			if err := h.set.Admit(m); err != nil {
				t.Fatalf("%s: job %d refused: %v", line, i, err)
			}
			h.set.Observe(h.event(m, k))
		}
	case "refused":
		n, m := count(args[0]), methodArg(t, args, 1)
		for i := range n {
			err := h.set.Admit(m)
			if err == nil {
				t.Fatalf("%s: job %d admitted", line, i)
			}
			if err.Kind != schema.ErrorUnavailable {
				t.Fatalf("%s: kind %v", line, err.Kind)
			}
			h.set.Observe(h.event(m, err.Kind))
		}
	case "admit":
		if err := h.set.Admit(methodArg(t, args, 0)); err != nil {
			t.Fatalf("%s: refused: %v", line, err)
		}
	case "observe":
		h.set.Observe(h.event(methodArg(t, args, 1), kind(args[0])))
	case "wait":
		d, err := time.ParseDuration(args[0])
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(d)
	case "state":
		if got := h.set.States()[args[0]]; got.String() != args[1] {
			t.Fatalf("%s: state %v", line, got)
		}
	case "refusal":
		m := methodArg(t, args, 0)
		want := strings.Join(args[1:], " ")
		err := h.set.Admit(m)
		if err == nil {
			t.Fatalf("%s: admitted", line)
		}
		if err.Kind != schema.ErrorUnavailable || err.Msg != want {
			t.Fatalf("%s:\n got %v %s\nwant %s", line, err.Kind, err.Msg, want)
		}
		h.set.Observe(h.event(m, err.Kind))
	case "changes":
		if got, want := strings.Join(h.changes, " "), strings.Join(args, " "); got != want {
			t.Fatalf("%s: changes %q", line, got)
		}
		h.changes = nil
	case "stats":
		var ls LibraryState
		for _, s := range h.set.Stats() {
			if s.Library == args[0] {
				ls = s
			}
		}
		for _, kv := range args[1:] {
			k, v, _ := strings.Cut(kv, "=")
			var got string
			switch k {
			case "opens":
				got = strconv.FormatUint(ls.Opens, 10)
			case "refused":
				got = strconv.FormatUint(ls.Refused, 10)
			case "jobs":
				got = strconv.Itoa(ls.Jobs)
			case "failures":
				got = strconv.Itoa(ls.Failures)
			case "retry":
				got = ls.RetryIn.String()
			default:
				t.Fatalf("%s: no stat %q", line, k)
			}
			if got != v {
				t.Fatalf("%s: %s=%s", line, k, got)
			}
		}
	default:
		t.Fatalf("unknown verb %q", verb)
	}
}

func TestStateMachine(t *testing.T) {
	const opened20 = `library "img" is unavailable: its circuit breaker opened after 10 of the last 20 jobs failed;`
	// open trips img with the defaults (10 of 20).
	open := []string{"job ok 10", "job libraryFailed 10", "state img open", "changes img:closed>open"}
	tests := []struct {
		name   string
		cfg    Config
		script []string
	}{
		{"opens at the threshold", Config{}, []string{
			"job ok 10", "job libraryFailed 9", "state img closed", "stats img jobs=19 failures=9",
			"job libraryFailed 1", "state img open", "changes img:closed>open",
			"refusal img.resize " + opened20 + " retrying in 10s",
			"refused 5 img.crop", "stats img opens=1 refused=6 retry=10s",
		}},
		{"not before MinJobs", Config{}, []string{
			"job libraryFailed 9", "state img closed",
			"job libraryFailed 1", "state img open",
			`refusal img.resize library "img" is unavailable: its circuit breaker opened after 10 of the last 10 jobs failed; retrying in 10s`,
		}},
		{"every library fault counts", Config{}, []string{
			"job ok 10", "job deadlineExceeded 3", "job resourceExhausted 3", "job internal 3", "state img closed",
			"job libraryFailed 1", "state img open",
		}},
		{"client errors count as neither", Config{}, []string{
			"job invalidParams 50", "job invalidInput 50", "job inputTooLarge 5", "job outputTooLarge 5",
			"job unknownMethod 5", "job invalidEnvelope 5", "job invalidReference 5", "job unknownLibrary 5",
			"observe libraryUnavailable", "stats img jobs=0 failures=0",
			"job libraryFailed 9", "job invalidInput 100", "state img closed", // 9 < MinJobs: client errors did not fill the window
			"job ok 10", "job invalidParams 100", "job libraryFailed 1", "state img open", // nor dilute the failures
		}},
		{"the window slides", Config{}, []string{
			"job libraryFailed 9", "job ok 20", "stats img jobs=20 failures=0",
			"job libraryFailed 9", "state img closed", "stats img jobs=20 failures=9",
			"job libraryFailed 1", "state img open",
		}},
		{"libraries are separate", Config{}, []string{
			"job libraryFailed 10", "state img open", "state txt closed",
			"job ok 3 txt.upper", "refused 1 img.crop", "refused 1 img.resize",
			"job libraryFailed 5 txt.upper", "state txt closed",
		}},
		{"cooldown", Config{}, append(open,
			"wait 9.95s", "refusal img.resize "+opened20+" retrying in 100ms",
			"wait 50ms", "state img open", "stats img retry=0s",
			"admit", "state img half-open", "changes img:open>half-open",
		)},
		{"half-open admits one trial", Config{}, append(open,
			"wait 10s", "admit img.crop",
			"refusal img.resize "+opened20+" a trial job is running",
			"refused 3", "wait 1s", "refused 3", "state img half-open", "stats img refused=7",
		)},
		{"trial success closes with an empty window", Config{}, append(open,
			"wait 10s", "admit", "refused 2", "observe ok", "state img closed",
			"changes img:open>half-open img:half-open>closed", "stats img jobs=0 failures=0 opens=1",
			"job libraryFailed 9", "state img closed", "job libraryFailed 1", "state img open",
		)},
		{"trial failure reopens", Config{}, append(open,
			"wait 10s", "admit", "observe deadlineExceeded", "state img open",
			"changes img:open>half-open img:half-open>open", "stats img opens=2",
			`refusal img.resize library "img" is unavailable: its circuit breaker reopened after a trial job failed (deadlineExceeded); retrying in 10s`,
			"wait 10s", "admit", "observe ok", "state img closed",
		)},
		{"a client error proves nothing", Config{}, append(open,
			"wait 10s", "admit", "observe invalidInput", "state img half-open",
			"admit", "refused 1", "observe ok", "state img closed",
		)},
		{"a lost trial is given up after the cooldown", Config{}, append(open,
			"wait 10s", "admit", "wait 9s", "refused 1", "wait 1s", "admit", "refused 1",
			"observe ok", "state img closed",
		)},
		{"stray outcomes while open change nothing", Config{}, append(open,
			"observe ok", "observe libraryFailed", "state img open", "stats img opens=1",
			"wait 10s", "admit", "observe ok img.crop", "state img closed",
		)},
		{"configured", Config{Window: 4, MinJobs: 2, FailureRate: 0.75, Cooldown: time.Minute}, []string{
			"job libraryFailed 1", "job ok 1", "job libraryFailed 1", "state img closed", // 2 of 3
			"job libraryFailed 1", "state img open", // 3 of 4
			`refusal img.resize library "img" is unavailable: its circuit breaker opened after 3 of the last 4 jobs failed; retrying in 1m0s`,
			"wait 59s", "refused 1", "wait 1s", "admit", "observe ok", "state img closed",
		}},
		{"MinJobs above Window is Window", Config{Window: 3, MinJobs: 50}, []string{
			"job libraryFailed 2", "state img closed", "job libraryFailed 1", "state img open",
		}},
		{"FailureRate above 1 is 1", Config{FailureRate: 7}, []string{
			"job ok 1", "job libraryFailed 19", "state img closed", "job libraryFailed 1", "state img open",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.cfg)
			for _, line := range tt.script {
				h.run(line)
			}
		})
	}
}

func TestUnknownMethodsAreAdmitted(t *testing.T) {
	s := New(testMethods, Config{})
	for _, m := range []kernel.MethodID{kernel.NoMethod, -7, 3, 1 << 20} {
		if err := s.Admit(m); err != nil {
			t.Errorf("Admit(%d) = %v", m, err)
		}
		s.Observe(&kernel.JobEvent{Method: m, Kind: schema.ErrorLibraryFailed, Ran: true})
	}
	// A sparse registry: IDs with no method.
	s = New([]kernel.MethodInfo{{ID: 3, Library: "a", Method: "x"}}, Config{Window: 1, MinJobs: 1})
	for m := range kernel.MethodID(3) {
		s.Observe(&kernel.JobEvent{Method: m, Kind: schema.ErrorLibraryFailed, Ran: true})
		if err := s.Admit(m); err != nil {
			t.Errorf("Admit(%d) = %v", m, err)
		}
	}
	s.Observe(&kernel.JobEvent{Method: 3, Kind: schema.ErrorLibraryFailed, Ran: true})
	if err := s.Admit(3); err == nil {
		t.Error("method 3 admitted after its library failed")
	}
}

func TestClassify(t *testing.T) {
	want := map[schema.ErrorKind]Outcome{
		schema.ErrorNone:              Success,
		schema.ErrorLibraryFailed:     Failure,
		schema.ErrorDeadlineExceeded:  Failure,
		schema.ErrorResourceExhausted: Failure,
		schema.ErrorInternal:          Failure,
	}
	for k := schema.ErrorKind(0); k < 64; k++ {
		if got := Classify(k); got != want[k] { // absent: Neutral
			t.Errorf("Classify(%v) = %v, want %v", k, got, want[k])
		}
	}
}

// model is the breaker written the obvious way: the whole history since
// the last close, and its last Window entries.
type model struct {
	cfg     Config
	hist    []bool
	st      State
	retryAt time.Time
	probing bool
	probeAt time.Time
}

func (m *model) admit(now time.Time) bool {
	switch m.st {
	case Open:
		if now.Before(m.retryAt) {
			return false
		}
		m.st, m.probing, m.probeAt = HalfOpen, true, now
	case HalfOpen:
		if m.probing && now.Sub(m.probeAt) < m.cfg.Cooldown {
			return false
		}
		m.probing, m.probeAt = true, now
	}
	return true
}

func (m *model) observe(now time.Time, o Outcome) {
	switch m.st {
	case Closed:
		if o == Neutral {
			return
		}
		m.hist = append(m.hist, o == Failure)
		w := m.hist[max(0, len(m.hist)-m.cfg.Window):]
		fails := 0
		for _, f := range w {
			if f {
				fails++
			}
		}
		if o == Failure && len(w) >= m.cfg.MinJobs && float64(fails)/float64(len(w)) >= m.cfg.FailureRate {
			m.st, m.retryAt = Open, now.Add(m.cfg.Cooldown)
		}
	case HalfOpen:
		if !m.probing {
			return
		}
		m.probing = false
		switch o {
		case Success:
			m.st, m.hist = Closed, nil
		case Failure:
			m.st, m.retryAt = Open, now.Add(m.cfg.Cooldown)
		}
	}
}

// TestAgainstModel runs random jobs, some with their outcome lost, through
// a Set and the model and compares every decision.
func TestAgainstModel(t *testing.T) {
	kinds := []schema.ErrorKind{schema.ErrorNone, schema.ErrorNone, schema.ErrorNone, schema.ErrorLibraryFailed,
		schema.ErrorDeadlineExceeded, schema.ErrorInvalidParams, schema.ErrorInvalidInput}
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 1))
		cfg := Config{Window: 1 + r.IntN(30), MinJobs: 1 + r.IntN(30), FailureRate: 0.1 + 0.9*r.Float64(),
			Cooldown: time.Duration(1+r.IntN(5)) * time.Second}
		clock := &fakeClock{t: time.Unix(0, 0)}
		cfg.Clock = clock.Now
		s := New(testMethods[:1], cfg)
		m := &model{cfg: cfg.withDefaults()}
		failBias := r.Float64() // how often this run's library fails
		for i := range 5000 {
			clock.Advance(time.Duration(r.IntN(400)) * time.Millisecond)
			got, want := s.Admit(0) == nil, m.admit(clock.t)
			if got != want {
				t.Fatalf("seed %d op %d: admitted %v, model %v", seed, i, got, want)
			}
			if !got || r.IntN(50) == 0 { // refused, or the outcome is lost
				continue
			}
			k := kinds[r.IntN(len(kinds))]
			if r.Float64() < failBias {
				k = schema.ErrorLibraryFailed
			}
			s.Observe(&kernel.JobEvent{Method: 0, Kind: k, Ran: true})
			m.observe(clock.t, Classify(k))
			if st := s.States()["img"]; st != m.st {
				t.Fatalf("seed %d op %d: state %v, model %v", seed, i, st, m.st)
			}
		}
	}
}

// TestConcurrentReaders reads States and Stats while the dispatcher's
// goroutine admits and observes (run with -race).
func TestConcurrentReaders(t *testing.T) {
	var changes sync.Map
	s := New(testMethods, Config{Window: 4, MinJobs: 2, Cooldown: time.Microsecond,
		OnChange: func(lib string, _, to State) { changes.Store(lib+to.String(), true) }})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = s.States()
				for _, ls := range s.Stats() {
					_ = ls.Reason
				}
			}
		})
	}
	for i := range 50_000 {
		m := kernel.MethodID(i % 3)
		k := schema.ErrorNone
		if i%7 < 4 {
			k = schema.ErrorLibraryFailed
		}
		if err := s.Admit(m); err != nil {
			k = err.Kind
		}
		s.Observe(&kernel.JobEvent{Method: m, Kind: k, Ran: true})
	}
	close(stop)
	wg.Wait()
	for _, want := range []string{"imgopen", "imghalf-open", "imgclosed"} {
		if _, ok := changes.Load(want); !ok {
			t.Errorf("no change to %s", want)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	s := New(testMethods, Config{Clock: clock.Now})
	ok := &kernel.JobEvent{Method: 1, Kind: schema.ErrorNone, Ran: true}
	bad := &kernel.JobEvent{Method: 2, Kind: schema.ErrorInvalidParams, Ran: true}
	if n := testing.AllocsPerRun(1000, func() {
		if s.Admit(1) == nil {
			s.Observe(ok)
		}
		if s.Admit(2) == nil {
			s.Observe(bad)
		}
	}); n != 0 {
		t.Errorf("closed: %v allocations per job", n)
	}
	for range 10 {
		s.Observe(&kernel.JobEvent{Method: 0, Kind: schema.ErrorInternal, Ran: true})
	}
	if n := testing.AllocsPerRun(1000, func() {
		if err := s.Admit(1); err != nil {
			s.Observe(&kernel.JobEvent{Method: 1, Kind: err.Kind, Ran: true})
		}
	}); n != 0 {
		t.Errorf("open: %v allocations per refusal", n)
	}
}

func BenchmarkAdmitObserve(b *testing.B) {
	s := New(testMethods, Config{})
	// A mix that never opens a breaker: img fails one job in four.
	events := []kernel.JobEvent{
		{Method: 0, Kind: schema.ErrorNone, Ran: true}, {Method: 2, Kind: schema.ErrorNone, Ran: true},
		{Method: 1, Kind: schema.ErrorLibraryFailed, Ran: true}, {Method: 2, Kind: schema.ErrorInvalidParams, Ran: true},
		{Method: 0, Kind: schema.ErrorNone, Ran: true}, {Method: 2, Kind: schema.ErrorNone, Ran: true},
		{Method: 1, Kind: schema.ErrorNone, Ran: true}, {Method: 0, Kind: schema.ErrorInvalidInput, Ran: true},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e := &events[i&7]
		if err := s.Admit(e.Method); err != nil {
			b.Fatal(err)
		}
		s.Observe(e)
	}
}

func BenchmarkAdmitRefused(b *testing.B) {
	s := New(testMethods, Config{Cooldown: time.Hour})
	for range 10 {
		s.Observe(&kernel.JobEvent{Method: 0, Kind: schema.ErrorInternal, Ran: true})
	}
	e := &kernel.JobEvent{Method: 0, Kind: schema.ErrorUnavailable, Ran: true}
	b.ReportAllocs()
	for b.Loop() {
		if s.Admit(0) == nil {
			b.Fatal("admitted")
		}
		s.Observe(e)
	}
}

func ExampleState() {
	fmt.Println(Closed, Open, HalfOpen)
	// Output: closed open half-open
}

// TestRefusedBeforeRunningIsNeutral: a job refused before its method ran
// (its deadline passed in the queue) is not held against the library.
func TestRefusedBeforeRunningIsNeutral(t *testing.T) {
	s := New(testMethods, Config{Window: 10, MinJobs: 4})
	for i := 0; i < 20; i++ {
		s.Observe(&kernel.JobEvent{Method: 0, Kind: schema.ErrorDeadlineExceeded, Ran: false})
	}
	if st := s.States()[testMethods[0].Library]; st != Closed {
		t.Fatalf("state %v after jobs that never ran, want closed", st)
	}
}
