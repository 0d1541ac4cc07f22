package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/inos-node/node/client"
	"github.com/inos-node/node/shm"
)

// RingOptions configure RunRing.
type RingOptions struct {
	// Duration of each measurement; default 2 s.
	Duration time.Duration
	// Quick runs only the 64 B closed loop and one idle gap per transport.
	Quick bool
	// Transports to run; default shm, uds, chan.
	Transports []string
	// Spin is how long the node and the producer spin before parking.
	Spin time.Duration
	// NodeCommand starts a node serving region (the region name is
	// appended); UDSCommand starts the socket echo server (the socket path is
	// appended). Both are usually the inos binary itself.
	NodeCommand []string
	UDSCommand  []string
	// RateHz is the open-loop send rate; default 10000/s, half of what the
	// Unix socket sustains here, so every transport is measured unsaturated.
	RateHz float64
	// Depth is the number of jobs kept in flight by the throughput scenario;
	// default 256.
	Depth int
	Log   *slog.Logger
}

// Payload sizes and idle gaps measured by the full run.
var (
	ringPayloads = []int{64, 4 << 10, 64 << 10, 1 << 20, 10 << 20}
	ringIdleUs   = []int{20, 200, 2000}
)

// RunRing runs the ring benchmark: cross-process ping-pong between a
// producer (this process) and a node process over shared memory, with the
// same ping-pong over a Unix socket to a child process and over an
// in-process Go channel as baselines, in the same run.
func RunRing(ctx context.Context, o RingOptions, rep *Reporter) error {
	if o.Duration <= 0 {
		o.Duration = 2 * time.Second
	}
	if len(o.Transports) == 0 {
		o.Transports = []string{"line", "shm", "uds", "chan"}
	}
	if o.RateHz <= 0 {
		o.RateHz = 10000
	}
	if o.Depth <= 0 {
		o.Depth = 256
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	var rows []Row
	add := func(r Row) { rows = append(rows, r); rep.Add(r) }
	for _, name := range o.Transports {
		t, err := openTransport(ctx, name, o)
		if err != nil {
			return fmt.Errorf("bench: open %s: %w", name, err)
		}
		err = runTransport(ctx, t, o, add)
		if cerr := t.close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("bench: %s: %w", name, err)
		}
	}
	// Ratios against shm, for rows of the same shape.
	for i := range rep.rows {
		r := &rep.rows[i]
		if r.Transport == "shm" {
			continue
		}
		for _, s := range rep.rows {
			if s.Transport == "shm" && s.Scenario == r.Scenario && s.PayloadBytes == r.PayloadBytes && s.IdleUs == r.IdleUs && s.Mode == r.Mode && s.P50 > 0 {
				r.VsShm = float64(r.P50) / float64(s.P50)
			}
		}
	}
	_ = rows
	return nil
}

func runTransport(ctx context.Context, t transport, o RingOptions, add func(Row)) error {
	name := t.name()
	closed := func(scenario string, payload, idleUs int) error {
		var floorP50 int64
		if name == "shm" {
			// The floor's echo thread spins: run it only while measured.
			floor := newLine()
			f, err := measureClosed(ctx, floor, 0, 0, 200*time.Millisecond)
			floor.close()
			if err != nil {
				return err
			}
			floorP50 = f.P50
		}
		r, err := measureClosed(ctx, t, payload, time.Duration(idleUs)*time.Microsecond, o.Duration)
		if err != nil {
			return err
		}
		r.FloorP50 = floorP50
		r.Scenario, r.Transport, r.Mode, r.PayloadBytes, r.IdleUs = scenario, name, "closed", payload, idleUs
		add(r)
		return nil
	}
	if err := closed("pingpong", 64, 0); err != nil {
		return err
	}
	if name == "line" {
		return nil // the floor: only the round trip itself
	}
	if o.Quick {
		return closed("idle", 64, 200)
	}
	for _, gap := range ringIdleUs {
		if err := closed("idle", 64, gap); err != nil {
			return err
		}
	}
	for _, p := range ringPayloads {
		if err := closed("payload", p, 0); err != nil {
			return err
		}
	}
	r, err := measureOpen(ctx, t, 64, o.RateHz, o.Duration)
	if err != nil {
		return err
	}
	r.Scenario, r.Transport, r.Mode, r.PayloadBytes, r.RateHz = "open", name, "open", 64, o.RateHz
	add(r)
	r, err = measureThroughput(ctx, t, o.Depth, o.Duration)
	if err != nil {
		return err
	}
	r.Scenario, r.Transport, r.Mode, r.PayloadBytes = "throughput", name, "closed", 0
	r.Note = fmt.Sprintf("%d in flight, empty jobs", o.Depth)
	add(r)
	return nil
}

// transport is one way of doing a round trip.
type transport interface {
	name() string
	// prepare readies a payload of n bytes for the following round trips.
	prepare(n int) error
	roundTrip(ctx context.Context) error
	// pipeline keeps depth empty requests in flight until the deadline and
	// returns how many completed.
	pipeline(ctx context.Context, depth int, until time.Time) (int64, error)
	close() error
}

func openTransport(ctx context.Context, name string, o RingOptions) (transport, error) {
	switch name {
	case "shm":
		return openShm(ctx, o)
	case "uds":
		return openUDS(ctx, o)
	case "chan":
		return newChan(), nil
	case "line":
		return newLine(), nil
	}
	return nil, fmt.Errorf("unknown transport %q (want shm, uds or chan)", name)
}

// spin waits until t, busy-polling when it is near so that short gaps are
// honoured precisely.
func spinUntil(t time.Time) {
	if d := time.Until(t); d > time.Millisecond {
		time.Sleep(d - 500*time.Microsecond)
	}
	for time.Now().Before(t) {
	}
}

func measureClosed(ctx context.Context, t transport, payload int, gap, dur time.Duration) (Row, error) {
	if err := t.prepare(payload); err != nil {
		return Row{}, err
	}
	h := NewHistogram()
	// Warm up caches and both sides' spinning.
	for i := 0; i < 100; i++ {
		if err := t.roundTrip(ctx); err != nil {
			return Row{}, err
		}
	}
	start := time.Now()
	end := start.Add(dur)
	for {
		t0 := time.Now()
		if !t0.Before(end) {
			break
		}
		if err := t.roundTrip(ctx); err != nil {
			return Row{}, err
		}
		_ = h.RecordValue(int64(time.Since(t0)))
		if gap > 0 {
			spinUntil(time.Now().Add(gap))
		}
	}
	var r Row
	r.fill(h, time.Since(start))
	return r, nil
}

func measureOpen(ctx context.Context, t transport, payload int, rateHz float64, dur time.Duration) (Row, error) {
	if err := t.prepare(payload); err != nil {
		return Row{}, err
	}
	h := NewHistogram()
	period := time.Duration(float64(time.Second) / rateHz)
	start := time.Now()
	for i := 0; ; i++ {
		intended := start.Add(time.Duration(i) * period)
		if intended.Sub(start) >= dur {
			break
		}
		spinUntil(intended)
		if err := t.roundTrip(ctx); err != nil {
			return Row{}, err
		}
		// From the intended send time: a stall counts against every
		// request it delayed.
		_ = h.RecordValue(int64(time.Since(intended)))
	}
	var r Row
	r.fill(h, time.Since(start))
	return r, nil
}

func measureThroughput(ctx context.Context, t transport, depth int, dur time.Duration) (Row, error) {
	if err := t.prepare(0); err != nil {
		return Row{}, err
	}
	start := time.Now()
	n, err := t.pipeline(ctx, depth, start.Add(dur))
	if err != nil {
		return Row{}, err
	}
	el := time.Since(start)
	return Row{Count: n, OpsPerS: float64(n) / el.Seconds()}, nil
}

// startChild starts argv with its output going to our stderr, in its own
// process group, and returns a stop function that SIGTERMs it and waits.
func startChild(argv []string) (func() error, error) {
	_, stop, err := startChildPID(argv)
	return stop, err
}

// startChildPID is startChild that also returns the child's process id.
func startChildPID(argv []string) (int, func() error, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	return cmd.Process.Pid, func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.Exited() {
				return fmt.Errorf("%s exited: %w", argv[0], err)
			}
			return nil
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			return fmt.Errorf("%s ignored SIGTERM for 10 s; killed", argv[0])
		}
	}, nil
}

// --- shm -------------------------------------------------------------------

type shmTransport struct {
	c     *client.Client
	stop  func() error
	buf   client.Buffer
	job   client.Job
	empty client.Job
}

func openShm(ctx context.Context, o RingOptions) (transport, error) {
	if len(o.NodeCommand) == 0 {
		return nil, errors.New("no NodeCommand to start a node with")
	}
	region := fmt.Sprintf("bench-%d", os.Getpid())
	stop, err := startChild(append(append([]string{}, o.NodeCommand...), region))
	if err != nil {
		return nil, err
	}
	wait := shm.WaitPolicy{Spin: o.Spin, Park: shm.DefaultPark}
	if o.Spin == 0 {
		wait.Spin = shm.DefaultSpin
	}
	c, err := AttachRetry(ctx, region, client.Options{Wait: wait}, 10*time.Second)
	if err != nil {
		stop()
		return nil, err
	}
	return &shmTransport{c: c, stop: stop,
		empty: client.Job{Library: "noop", Method: "noop"}}, nil
}

// AttachRetry attaches to region, retrying while the node starts.
func AttachRetry(ctx context.Context, region string, opts client.Options, within time.Duration) (*client.Client, error) {
	deadline := time.Now().Add(within)
	for {
		c, err := client.Attach(region, opts)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("node did not come up: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *shmTransport) name() string { return "shm" }

func (s *shmTransport) prepare(n int) error {
	if s.buf.Ref.Length > 0 {
		s.c.Free(s.buf)
		s.buf = client.Buffer{}
	}
	s.job = client.Job{Library: "echo", Method: "echo"}
	if n == 0 {
		return nil
	}
	b, err := s.c.Alloc(n)
	if err != nil {
		return err
	}
	for i := range b.Bytes {
		b.Bytes[i] = byte(i)
	}
	s.buf, s.job.Input = b, b.Ref
	return nil
}

func (s *shmTransport) roundTrip(ctx context.Context) error {
	r, err := s.c.Call(ctx, s.job)
	if err != nil {
		return err
	}
	if err := r.Err(); err != nil {
		return err
	}
	if r.Output.Ref != s.job.Input {
		return fmt.Errorf("echo returned %+v for input %+v", r.Output.Ref, s.job.Input)
	}
	return nil
}

func (s *shmTransport) pipeline(ctx context.Context, depth int, until time.Time) (int64, error) {
	depth = min(depth, 1024)
	var done int64
	for {
		for s.c.InFlight() < depth {
			if _, err := s.c.Submit(ctx, s.empty); err != nil {
				return done, err
			}
		}
		r, err := s.c.Wait(ctx)
		if err != nil {
			return done, err
		}
		if err := r.Err(); err != nil {
			return done, err
		}
		done++
		if done&1023 == 0 && time.Now().After(until) {
			break
		}
	}
	for s.c.InFlight() > 0 {
		if _, err := s.c.Wait(ctx); err != nil {
			return done, err
		}
	}
	return done, nil
}

func (s *shmTransport) close() error {
	cerr := s.c.Close()
	if err := s.stop(); err != nil {
		return err
	}
	return cerr
}

// --- chan ------------------------------------------------------------------

type chanTransport struct {
	req, resp chan []byte
	buf       []byte
}

func newChan() *chanTransport {
	t := &chanTransport{req: make(chan []byte, 1024), resp: make(chan []byte, 1024)}
	go func() {
		for b := range t.req {
			t.resp <- b
		}
		close(t.resp)
	}()
	return t
}

func (t *chanTransport) name() string { return "chan" }

func (t *chanTransport) prepare(n int) error {
	t.buf = make([]byte, n)
	return nil
}

func (t *chanTransport) roundTrip(context.Context) error {
	t.req <- t.buf
	<-t.resp
	return nil
}

func (t *chanTransport) pipeline(_ context.Context, depth int, until time.Time) (int64, error) {
	depth = min(depth, cap(t.req))
	var done int64
	inflight := 0
	for {
		for inflight < depth {
			t.req <- t.buf
			inflight++
		}
		<-t.resp
		inflight--
		done++
		if done&1023 == 0 && time.Now().After(until) {
			break
		}
	}
	for ; inflight > 0; inflight-- {
		<-t.resp
	}
	return done, nil
}

func (t *chanTransport) close() error {
	close(t.req)
	return nil
}

// --- line --------------------------------------------------------------------

// lineTransport is the machine's floor: two threads hand one 64-bit word
// back and forth through two cache lines, with nothing else. Any shared-
// memory round trip costs at least this; it varies with where the host puts
// the two vCPUs, so it is measured in the same run as shm.
type lineTransport struct {
	ping, pong atomic.Uint64
	_          [112]byte
	seq        uint64
	done       chan struct{}
}

const lineStop = ^uint64(0)

func newLine() *lineTransport {
	t := &lineTransport{done: make(chan struct{})}
	go func() {
		defer close(t.done)
		var last uint64
		for {
			v := t.ping.Load()
			if v == last {
				continue
			}
			if v == lineStop {
				return
			}
			last = v
			t.pong.Store(v)
		}
	}()
	return t
}

func (t *lineTransport) name() string      { return "line" }
func (t *lineTransport) prepare(int) error { return nil }

func (t *lineTransport) roundTrip(context.Context) error {
	t.seq++
	t.ping.Store(t.seq)
	for t.pong.Load() != t.seq {
	}
	return nil
}

func (t *lineTransport) pipeline(context.Context, int, time.Time) (int64, error) {
	return 0, errors.New("line: no pipeline")
}

func (t *lineTransport) close() error {
	t.ping.Store(lineStop)
	<-t.done
	return nil
}
