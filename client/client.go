// Package client is the producer's side of the INOS node: attach to a
// node's shared region, reserve memory for inputs and outputs, submit jobs
// and wait for their results, all through shared memory.
//
// A Client is one registered producer with its own outbox and heap
// partition. It is not safe for concurrent use: give each goroutine that
// submits its own Client.
package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
	"unsafe"

	"github.com/inos-node/node/arena"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/ring"
	"github.com/inos-node/node/schema"
	"github.com/inos-node/node/shm"
)

// Errors callers can compare with errors.Is.
var (
	ErrRingFull        = ring.ErrFull
	ErrNoMemory        = arena.ErrNoSpace
	ErrTooManyInFlight = errors.New("client: as many jobs in flight as the outbox holds; wait for results first")
	ErrNothingInFlight = errors.New("client: no job in flight")
	ErrClosed          = errors.New("client: closed")
	ErrNodeGone        = shm.ErrNoNode
	ErrForeignBuffer   = arena.ErrForeign
)

// Options configure Attach.
type Options struct {
	// Dir overrides the region's directory (tests).
	Dir string
	// Wait says how to wait for results and for room in a full inbox.
	// Default: spin 50 µs, then park in 50 ms slices.
	Wait shm.WaitPolicy
	// FailWhenFull makes Submit return ErrRingFull at once when the inbox
	// is full, instead of waiting for room.
	FailWhenFull bool
	// Heartbeat is how often the client records that it lives; default 1 s.
	Heartbeat time.Duration
}

// Buffer is a block of the shared heap, pinned (it never moves) until
// Free. Bytes is its view in this process; Ref (offset, length and arena
// handle) is what a job carries.
type Buffer struct {
	Ref   schema.Ref
	Bytes []byte
}

// Job describes one job to submit.
type Job struct {
	Library, Method string
	Params          []byte // JSON object; nil means {}
	Input, Output   schema.Ref
	Deadline        time.Time // zero: none
	Limits          schema.JobLimits
}

// Result is a job's answer. Output views shared memory; it stays valid
// until its buffer is freed.
type Result struct {
	JobID    uint64
	Status   schema.Status
	Kind     schema.ErrorKind
	Message  string
	Output   Buffer
	QueueNs  uint64
	ExecNs   uint64
	FuelUsed uint64
	// OutputNeeded, when Kind is outputTooLarge, is the size the output
	// needs if the library said (0 if not): retry with a buffer as large.
	OutputNeeded uint64
}

// JobError is a failed job's error.
type JobError struct {
	JobID   uint64
	Kind    schema.ErrorKind
	Message string
}

func (e *JobError) Error() string {
	return fmt.Sprintf("job %d: %s: %s", e.JobID, e.Kind, e.Message)
}

// Err returns nil for a successful job and a *JobError otherwise.
func (r *Result) Err() error {
	if r.Status == schema.StatusOK {
		return nil
	}
	return &JobError{JobID: r.JobID, Kind: r.Kind, Message: r.Message}
}

// pending is a job in flight: its envelope block.
type pending struct {
	h         arena.Handle
	off, size uint64 // region offset, bytes
}

// WokenSpin is how long a client spins for a result after its submit woke
// a parked node: a wake-up after an idle spell takes tens of µs on this
// kind of machine, longer than the default spin, and parking then would add
// a second wake-up to the round trip.
const WokenSpin = 300 * time.Microsecond

// Client is a registered producer.
type Client struct {
	region  *shm.Region
	mem     []byte
	inbox   *ring.Ring
	outbox  *ring.Ring
	reg     shm.Registry
	slot    int
	owner   uint16
	gen     uint32
	pid     int
	opts    Options
	wait    shm.WaitPolicy
	heap    *arena.Arena
	heapOff uint64
	aowner  arena.Owner
	envs    []pending // free envelope blocks of ResultBufferMin bytes, pinned

	nextID    uint64
	nodeWoken bool // the last Submit woke a parked node
	inflight  map[uint64]pending
	early     map[uint64]Result
	popped    [1]ring.Entry
	decode    schema.DecodeLimits
	res       schema.Result

	stop chan struct{}
	done sync.WaitGroup
}

// Attach maps the region a node serves under name and registers as a
// producer.
func Attach(name string, opts Options) (*Client, error) {
	region, err := shm.Attach(name, shm.Options{Dir: opts.Dir})
	if err != nil {
		return nil, err
	}
	l := region.Layout()
	inbox, err := ring.Attach(region.Slice(l.InboxOff, l.InboxSize))
	if err != nil {
		region.Close()
		return nil, err
	}
	pid := os.Getpid()
	start, _, err := shm.ProcStartTime(pid)
	if err != nil {
		region.Close()
		return nil, err
	}
	reg := region.Producers()
	slot, gen, err := reg.Register(pid, start)
	if err != nil {
		region.Close()
		return nil, &shm.RegionError{Name: name, Detail: fmt.Sprintf("%d producers attached", reg.Len()), Err: err}
	}
	outbox, err := ring.Attach(region.Slice(l.Outbox(slot), l.OutboxSize))
	var heap *arena.Arena
	if err == nil {
		heap, err = arena.AttachRegion(region)
	}
	if err != nil {
		reg.Leave(slot, pid)
		region.Close()
		return nil, err
	}
	c := &Client{
		region: region, mem: region.Bytes(), inbox: inbox, outbox: outbox, reg: reg,
		slot: slot, owner: uint16(slot + 1), gen: gen, pid: pid, opts: opts,
		heap: heap, heapOff: l.HeapOff, aowner: arena.Owner(slot + 1),
		inflight: map[uint64]pending{}, early: map[uint64]Result{},
		decode: schema.DefaultDecodeLimits(),
		stop:   make(chan struct{}),
	}
	c.wait = opts.Wait
	if c.wait.Spin == 0 && c.wait.Park == 0 {
		c.wait = shm.WaitPolicy{Spin: shm.DefaultSpin, Park: shm.DefaultPark}
	}
	c.wait.Alive = c.alive
	hb := opts.Heartbeat
	if hb <= 0 {
		hb = time.Second
	}
	c.done.Add(1)
	go c.heartbeat(hb)
	return c, nil
}

func (c *Client) heartbeat(every time.Duration) {
	defer c.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.reg.Heartbeat(c.slot)
		}
	}
}

// alive fails once the node is gone or our registration was taken away.
func (c *Client) alive() error {
	if err := c.region.NodeAlive(); err != nil {
		return err
	}
	if !c.reg.Active(c.slot, c.gen) {
		return fmt.Errorf("%w: producer slot %d was reclaimed", ErrNodeGone, c.slot)
	}
	return nil
}

// Region returns the mapped region (for tools and tests).
func (c *Client) Region() *shm.Region { return c.region }

// Slot returns the client's producer slot.
func (c *Client) Slot() int { return c.slot }

// InFlight returns the number of submitted jobs without a result yet.
func (c *Client) InFlight() int { return len(c.inflight) }

// Owner returns the client's owner id in the shared heap.
func (c *Client) Owner() arena.Owner { return c.aowner }

// Alloc reserves n bytes of the shared heap for inputs or outputs. The
// block is pinned until Free: it never moves, so Bytes stays valid.
//
// A buffer of a page or more gets a block of whole pages (the heap places
// such blocks on page boundaries), so that the node can map all of it into
// a sandboxed guest instead of copying any of it. The node runs on this
// machine, so this process's page size is the one it maps in.
func (c *Client) Alloc(n int) (Buffer, error) {
	if c.mem == nil {
		return Buffer{}, ErrClosed
	}
	if n <= 0 {
		return Buffer{}, fmt.Errorf("client: Alloc(%d)", n)
	}
	size := uint64(n)
	if page := uint64(os.Getpagesize()); size >= page {
		size = (size + page - 1) &^ (page - 1)
	}
	h, off, err := c.heap.Alloc(c.aowner, size)
	if err != nil {
		return Buffer{}, err
	}
	if _, err := c.heap.Pin(h); err != nil {
		c.heap.Free(c.aowner, h)
		return Buffer{}, err
	}
	off += c.heapOff
	return Buffer{Ref: schema.Ref{Offset: off, Length: uint64(n), Handle: uint64(h)}, Bytes: c.mem[off : off+uint64(n) : off+uint64(n)]}, nil
}

// Free releases a buffer from Alloc. Freeing it twice, or a buffer of
// another client, is an error (arena.ErrDoubleFree, arena.ErrForeign...).
func (c *Client) Free(b Buffer) error {
	h := arena.Handle(b.Ref.Handle)
	if _, _, err := c.heap.Check(h, c.aowner); err != nil {
		return err
	}
	if err := c.heap.Unpin(h); err != nil {
		return err
	}
	return c.heap.Free(c.aowner, h)
}

// envelope returns a pinned block of at least size bytes for a job's
// envelope (and then its result), from the cache when it is the usual size.
func (c *Client) envelope(size uint64) (pending, error) {
	if size <= kernel.ResultBufferMin {
		if k := len(c.envs); k > 0 {
			p := c.envs[k-1]
			c.envs = c.envs[:k-1]
			return p, nil
		}
		size = kernel.ResultBufferMin
	}
	b, err := c.Alloc(int(size))
	if err != nil {
		return pending{}, err
	}
	return pending{h: arena.Handle(b.Ref.Handle), off: b.Ref.Offset, size: size}, nil
}

// releaseEnvelope keeps usual-size envelope blocks for the next job.
func (c *Client) releaseEnvelope(p pending) {
	if p.size == kernel.ResultBufferMin && len(c.envs) < c.outbox.Cap() {
		c.envs = append(c.envs, p)
		return
	}
	c.Free(Buffer{Ref: schema.Ref{Offset: p.off, Length: p.size, Handle: uint64(p.h)}})
}

// View returns the bytes of ref (for example a result's output).
func (c *Client) View(ref schema.Ref) []byte {
	return c.mem[ref.Offset : ref.Offset+ref.Length : ref.Offset+ref.Length]
}

func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Submit publishes job in the inbox and returns its id. With a full inbox
// it waits for room, or fails with ErrRingFull if FailWhenFull is set.
func (c *Client) Submit(ctx context.Context, job Job) (uint64, error) {
	if c.mem == nil {
		return 0, ErrClosed
	}
	if len(c.inflight) >= c.outbox.Cap() {
		return 0, ErrTooManyInFlight
	}
	c.nextID++
	id := c.nextID
	req := schema.Request{
		JobID: id, Library: bytesOf(job.Library), Method: bytesOf(job.Method), Params: job.Params,
		Input: job.Input, Output: job.Output, Limits: job.Limits, SubmitUnixNs: time.Now().UnixNano(),
	}
	if !job.Deadline.IsZero() {
		req.DeadlineUnixNs = job.Deadline.UnixNano()
	}
	size := uint64(schema.RequestSize(&req))
	env, err := c.envelope(size)
	if err != nil {
		return 0, fmt.Errorf("envelope of %d bytes: %w", size, err)
	}
	schema.AppendRequest(c.mem[env.off:env.off:env.off+env.size], &req)
	// The slot carries the envelope block's handle; the node finds and
	// checks the block through it.
	e := ring.Entry{Off: uint64(env.h), Len: uint32(size), Aux: c.gen, Tag: id}
	for {
		err := c.inbox.Publish(c.owner, e)
		if err == nil {
			break
		}
		if errors.Is(err, ring.ErrFull) && !c.opts.FailWhenFull {
			err = c.inbox.WaitRoom(ctx, c.wait)
		}
		if err != nil {
			c.releaseEnvelope(env)
			return 0, err
		}
	}
	// If the node was parked, its answer is a futex wake-up away: wait for
	// it spinning a while longer rather than parking ourselves, which would
	// cost a second wake-up.
	c.nodeWoken = c.inbox.Notify()
	c.inflight[id] = env
	return id, nil
}

// resultWait is the policy for waiting on a result.
func (c *Client) resultWait() shm.WaitPolicy {
	if c.nodeWoken && c.wait.Spin > 0 && c.wait.Spin < WokenSpin {
		p := c.wait
		p.Spin = WokenSpin
		return p
	}
	return c.wait
}

// Wait returns the next result of any job in flight.
func (c *Client) Wait(ctx context.Context) (Result, error) {
	for id, r := range c.early {
		delete(c.early, id)
		return r, nil
	}
	for {
		if n, _ := c.outbox.PopBatch(c.popped[:]); n == 1 {
			return c.take(&c.popped[0])
		}
		if len(c.inflight) == 0 {
			return Result{}, ErrNothingInFlight
		}
		if _, err := c.outbox.Wait(ctx, c.resultWait()); err != nil {
			return Result{}, err
		}
	}
}

// Call submits job and waits for its result; results of other jobs that
// arrive meanwhile are kept for Wait.
func (c *Client) Call(ctx context.Context, job Job) (Result, error) {
	id, err := c.Submit(ctx, job)
	if err != nil {
		return Result{}, err
	}
	for {
		if r, ok := c.early[id]; ok {
			delete(c.early, id)
			return r, nil
		}
		if n, _ := c.outbox.PopBatch(c.popped[:]); n == 1 {
			r, err := c.take(&c.popped[0])
			if err != nil || r.JobID == id {
				return r, err
			}
			c.early[r.JobID] = r
			continue
		}
		if _, err := c.outbox.Wait(ctx, c.resultWait()); err != nil {
			return Result{}, err
		}
	}
}

// take decodes a result entry and frees the job's envelope buffer.
func (c *Client) take(e *ring.Entry) (Result, error) {
	p, ok := c.inflight[e.Tag]
	if !ok {
		return Result{}, fmt.Errorf("client: result for unknown job %d", e.Tag)
	}
	delete(c.inflight, e.Tag)
	defer c.releaseEnvelope(p)
	r := Result{JobID: e.Tag}
	if e.Len == 0 {
		// The node could not locate the envelope; Aux holds the kind.
		r.Status, r.Kind = schema.StatusError, schema.ErrorKind(e.Aux)
		r.Message = "the node could not read the envelope at its reference"
		return r, nil
	}
	if e.Off != p.off || uint64(e.Len) > p.size {
		return r, fmt.Errorf("client: result for job %d at [%d,+%d), envelope was at [%d,+%d)", e.Tag, e.Off, e.Len, p.off, p.size)
	}
	if err := schema.DecodeResult(c.mem[e.Off:e.Off+uint64(e.Len)], c.decode, &c.res); err != nil {
		return r, fmt.Errorf("client: undecodable result for job %d: %w", e.Tag, err)
	}
	res := &c.res
	r.Status, r.Kind, r.QueueNs, r.ExecNs, r.FuelUsed = res.Status, res.ErrorKind, res.QueueNs, res.ExecNs, res.FuelUsed
	r.OutputNeeded = res.OutputNeeded
	if len(res.ErrorMessage) > 0 {
		r.Message = string(res.ErrorMessage)
	}
	if res.Output.Length > 0 {
		if res.Output.Offset < c.heapOff || res.Output.Offset+res.Output.Length > uint64(len(c.mem)) {
			return r, fmt.Errorf("client: job %d output [%d,+%d) outside the heap", e.Tag, res.Output.Offset, res.Output.Length)
		}
		r.Output = Buffer{Ref: res.Output, Bytes: c.View(res.Output)}
	}
	return r, nil
}

// Close leaves the producer table (the node reclaims the slot and its
// memory) and unmaps the region. Buffers and result views become invalid.
func (c *Client) Close() error {
	if c.mem == nil {
		return nil
	}
	close(c.stop)
	c.done.Wait()
	c.reg.Leave(c.slot, c.pid)
	c.mem = nil
	return c.region.Close()
}

// Movable is a block of the shared heap that the node may move, to
// defragment the heap, whenever nobody pins it. Hold it, not an offset;
// Pin it for a view (and to use it in a job), and Unpin when done.
type Movable struct {
	h arena.Handle
	n uint64
}

// AllocMovable reserves n bytes that the node may move while unpinned.
func (c *Client) AllocMovable(n int) (Movable, error) {
	if c.mem == nil {
		return Movable{}, ErrClosed
	}
	if n <= 0 {
		return Movable{}, fmt.Errorf("client: AllocMovable(%d)", n)
	}
	h, _, err := c.heap.Alloc(c.aowner, uint64(n))
	if err != nil {
		return Movable{}, err
	}
	return Movable{h: h, n: uint64(n)}, nil
}

// Pin fixes m where it is and returns its view; pins nest. The view is
// valid until the matching Unpin.
func (c *Client) Pin(m Movable) (Buffer, error) {
	off, err := c.heap.Pin(m.h)
	if err != nil {
		return Buffer{}, err
	}
	off += c.heapOff
	return Buffer{Ref: schema.Ref{Offset: off, Length: m.n, Handle: uint64(m.h)}, Bytes: c.mem[off : off+m.n : off+m.n]}, nil
}

// Unpin undoes one Pin; the block may move again once no pin is left.
func (c *Client) Unpin(m Movable) error { return c.heap.Unpin(m.h) }

// FreeMovable releases m; it must not be pinned.
func (c *Client) FreeMovable(m Movable) error { return c.heap.Free(c.aowner, m.h) }
