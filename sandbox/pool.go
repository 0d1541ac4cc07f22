package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/inos-node/node/sandbox/internal/guestmem"
)

// Errors of a guest call, compare with errors.Is. Each ends the instance:
// the pool discards it and makes a fresh one.
var (
	ErrTimeout   = errors.New("sandbox: guest ran past its timeout")
	ErrOutOfFuel = errors.New("sandbox: guest ran out of fuel")
	ErrTrap      = errors.New("sandbox: guest trapped")
)

// FuelQuantum is how much fuel the guest gets between two calls to the fuel
// hook: the hook is where the deadline is checked, so this bounds how late
// a runaway guest is stopped (about a millisecond of Go guest code here).
const FuelQuantum = 1 << 20

// callState is one call's budget. It lives in the instance (no allocation
// per call); the fuel hook finds it through the engine's table of running
// instances.
type callState struct {
	start    time.Time
	deadline time.Time
	left     uint64 // fuel not yet handed to the guest
	handed   uint64 // fuel handed so far
	refills  int
	reason   error // why the hook stopped the guest
}

// prepareHost instantiates, once per engine, the host modules guests may
// import: WASI (Load already refused whatever a library may not use), and
// the module "inos": the fuel hook and random_get.
func (e *Engine) prepareHost(ctx context.Context) error {
	e.hostOnce.Do(func() {
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, e.rt); err != nil {
			e.hostErr = err
			return
		}
		hook := fuelOptions()
		_, e.hostErr = e.rt.NewHostModuleBuilder(hook.ImportModule).
			NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(e.fuelExhausted), nil, nil).
			Export(hook.ImportName).
			NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(e.randomGet), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).
			Export(RandomImport).
			Instantiate(ctx)
	})
	return e.hostErr
}

// RandomImport is the name in module "inos" of the host function that fills
// guest memory with real randomness: random_get(buf i32, len i32) -> errno
// i32 (0: filled; 52, ENOSYS: the library has no entropy source; 21,
// EFAULT: the range is outside the guest's memory). A library that may
// call it lists "inos.random_get" in its Limits.Imports and sets
// LibraryConfig.Random.
const RandomImport = "random_get"

// randomGet is inos.random_get. Its bytes never change the guest's control
// flow the way a runtime's hash seeds do, which is why WASI's random_get
// stays deterministic: fuel stays a function of the job.
func (e *Engine) randomGet(_ context.Context, m api.Module, stack []uint64) {
	const errnoFault, errnoNoSys = 21, 52
	v, ok := e.instances.Load(m)
	if !ok {
		panic(errors.New("sandbox: random_get called by a module the engine does not run"))
	}
	inst := v.(*instance)
	if inst.entropy == nil {
		stack[0] = errnoNoSys
		return
	}
	buf, ok := m.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		stack[0] = errnoFault
		return
	}
	if _, err := io.ReadFull(inst.entropy, buf); err != nil {
		panic(fmt.Errorf("sandbox: random_get: %w", err))
	}
	stack[0] = 0
}

// fuelExhausted is the fuel hook: the guest's counter went negative. It is
// also the guest's only safe point, so the deadline is checked here.
func (e *Engine) fuelExhausted(_ context.Context, m api.Module, _ []uint64) {
	v, ok := e.instances.Load(m)
	if !ok {
		panic(errors.New("sandbox: fuel hook called by a module the engine does not run"))
	}
	inst := v.(*instance)
	st := &inst.st
	if time.Now().After(st.deadline) {
		st.reason = ErrTimeout
		panic(ErrTimeout)
	}
	if st.left == 0 {
		st.reason = ErrOutOfFuel
		panic(ErrOutOfFuel)
	}
	q := min(st.left, FuelQuantum)
	st.left -= q
	st.handed += q
	st.refills++
	inst.fuel.Set(uint64(int64(inst.fuel.Get()) + int64(q)))
}

// Pool keeps initialized instances of one module warm: instantiation takes
// milliseconds, never paid per job. An instance whose call failed in any
// way is discarded, never reused.
type Pool struct {
	e    *Engine
	m    *Module
	mu   sync.Mutex
	idle []*instance
	// prepare, if set, runs on each new instance after its initialization
	// (a Library reserves its area there).
	prepare func(ctx context.Context, inst *instance) error
	// entropy, if set, is what the guest's inos.random_get reads: real
	// randomness for keys and nonces. WASI's random_get stays wazero's
	// deterministic source whatever this is (see LibraryConfig.Random).
	entropy io.Reader

	created, discarded atomic.Uint64
}

// PoolStats describes a pool's instances.
type PoolStats struct {
	Live, Idle         int    // instances alive (idle or running a call), idle ones
	Created, Discarded uint64 // since the pool was made (a trap or an exit discards)
	// MemoryBytes is the linear memory the idle instances hold (what the
	// guests grew to; their windows' producer pages are not in it).
	MemoryBytes uint64
}

// Stats returns the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := PoolStats{Idle: len(p.idle), Created: p.created.Load(), Discarded: p.discarded.Load()}
	s.Live = int(s.Created - s.Discarded)
	for _, inst := range p.idle {
		s.MemoryBytes += uint64(len(inst.mem.Bytes()))
	}
	return s
}

type instance struct {
	mod     api.Module
	fuel    api.MutableGlobal
	stderr  *bytes.Buffer
	mem     *guestmem.Memory // the guest's memory, a window of the engine's file
	maxMem  uint64           // bytes the memory may grow to
	area    uint64           // a Library's reserved area in the guest (0: none)
	entry   api.Function     // a Library's inos_call
	entropy io.Reader        // inos.random_get's source (nil: none)
	outMap  mapping          // a Library's output window as its last job left it mapped
	outFile *os.File         // the file outMap maps
	st      callState        // the running call's budget
	stack   []uint64         // parameters and results of a call
}

// mapping is n bytes of a file at file, mapped at guest address guest.
type mapping struct{ guest, file, n uint64 }

// NewPool makes a pool for m holding up to warm idle instances, and
// creates them now.
func (e *Engine) NewPool(ctx context.Context, m *Module, warm int) (*Pool, error) {
	return e.newPool(ctx, m, warm, nil, nil)
}

func (e *Engine) newPool(ctx context.Context, m *Module, warm int, prepare func(context.Context, *instance) error, entropy io.Reader) (*Pool, error) {
	if err := e.prepareHost(ctx); err != nil {
		return nil, err
	}
	p := &Pool{e: e, m: m, prepare: prepare, entropy: entropy}
	for i := 0; i < warm; i++ {
		inst, err := p.instantiate(ctx)
		if err != nil {
			p.Close(ctx)
			return nil, err
		}
		p.idle = append(p.idle, inst)
	}
	return p, nil
}

// memoryFor is the allocator of one instantiation: it backs the guest's
// memory with a window of the engine's file, at most the library's
// MaxMemoryPages (so memory.grow past them fails in the guest), and
// remembers the memory for the instance.
type memoryFor struct {
	a     *guestmem.Allocator
	limit uint64
	got   *guestmem.Memory
	err   error
}

func (c *memoryFor) Allocate(capacity, max uint64) experimental.LinearMemory {
	if c.limit > 0 {
		max = min(max, c.limit)
	}
	c.got, c.err = c.a.New(max)
	if c.err != nil {
		return failedMemory{}
	}
	return c.got
}

// failedMemory is what an allocation that failed returns: wazero's
// instantiation then fails (and panics, which instantiate recovers).
type failedMemory struct{}

func (failedMemory) Reallocate(uint64) []byte { return nil }
func (failedMemory) Free()                    {}

func (p *Pool) instantiate(ctx context.Context) (inst *instance, err error) {
	var stderr bytes.Buffer
	alloc := &memoryFor{a: p.e.mem, limit: uint64(p.m.Limits.MaxMemoryPages) * 65536}
	cfg := wazero.NewModuleConfig().WithName("").WithStderr(&stderr).WithStartFunctions()
	mod, err := p.instantiateModule(experimental.WithMemoryAllocator(ctx, alloc), cfg)
	if err != nil {
		if alloc.err != nil {
			err = alloc.err
		}
		return nil, fmt.Errorf("sandbox: instantiate %q: %w", p.m.Library, err)
	}
	p.created.Add(1)
	inst = &instance{mod: mod, stderr: &stderr, mem: alloc.got, entropy: p.entropy}
	p.e.instances.Store(mod, inst)
	if inst.mem == nil {
		p.discard(ctx, inst)
		return nil, fmt.Errorf("sandbox: %q has no memory of its own", p.m.Library)
	}
	inst.maxMem = inst.mem.Cap()
	if p.m.metered {
		g, ok := mod.ExportedGlobal(fuelOptions().GlobalExport).(api.MutableGlobal)
		if !ok {
			p.discard(ctx, inst)
			return nil, fmt.Errorf("sandbox: %q has no fuel counter", p.m.Library)
		}
		inst.fuel = g
	}
	// Reactors (Go -buildmode=c-shared) initialize once here, under the
	// initialization budget rather than a job's.
	if init := mod.ExportedFunction("_initialize"); init != nil {
		if _, _, err := p.call(ctx, inst, init, initLimits(p.m.Limits)); err != nil {
			p.discard(ctx, inst)
			return nil, fmt.Errorf("sandbox: initialize %q: %w", p.m.Library, err)
		}
	}
	if p.prepare != nil {
		if err := p.prepare(ctx, inst); err != nil {
			p.discard(ctx, inst)
			return nil, err
		}
	}
	return inst, nil
}

// instantiateModule runs wazero's instantiation, turning a panic (a failed
// memory allocation ends in one) into an error.
func (p *Pool) instantiateModule(ctx context.Context, cfg wazero.ModuleConfig) (mod api.Module, err error) {
	defer func() {
		if r := recover(); r != nil {
			mod, err = nil, fmt.Errorf("instantiation panicked: %v", r)
		}
	}()
	return p.e.rt.InstantiateModule(ctx, p.m.Compiled, cfg)
}

// get takes an idle instance, or makes one.
func (p *Pool) get(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	var inst *instance
	if k := len(p.idle); k > 0 {
		inst, p.idle = p.idle[k-1], p.idle[:k-1]
	}
	p.mu.Unlock()
	if inst != nil {
		return inst, nil
	}
	return p.instantiate(ctx)
}

// discard closes an instance that must not run again; a new one is made on
// demand.
func (p *Pool) discard(ctx context.Context, inst *instance) {
	p.discarded.Add(1)
	p.e.instances.Delete(inst.mod)
	inst.mod.Close(ctx)
}

// Result is a finished call.
type Result struct {
	Values   []uint64
	FuelUsed uint64
	Elapsed  time.Duration
}

// Call runs the guest's exported function fn on a warm instance, under the
// library's timeout and fuel.
func (p *Pool) Call(ctx context.Context, fn string, params ...uint64) (Result, error) {
	inst, err := p.get(ctx)
	if err != nil {
		return Result{}, err
	}
	f := inst.mod.ExportedFunction(fn)
	if f == nil {
		p.put(inst)
		return Result{}, fmt.Errorf("sandbox: %q exports no function %q", p.m.Library, fn)
	}
	start := time.Now()
	vals, used, err := p.call(ctx, inst, f, p.m.Limits, params...)
	res := Result{Values: slices.Clone(vals), FuelUsed: used, Elapsed: time.Since(start)}
	if err != nil {
		p.discard(ctx, inst)
		return res, err
	}
	p.put(inst)
	return res, nil
}

func (p *Pool) put(inst *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = append(p.idle, inst)
}

// initLimits is the budget of a guest's initialization: a runtime's start-up
// is not a job, and a library's job budget may be far smaller.
func initLimits(lim Limits) Limits {
	lim.MaxFuel = max(lim.MaxFuel, 10_000_000_000)
	lim.Timeout = max(lim.Timeout, 10*time.Second)
	return lim
}

// call runs f with a fresh budget from lim and classifies how it ended. The
// results it returns are valid until the instance's next call.
func (p *Pool) call(ctx context.Context, inst *instance, f api.Function, lim Limits, params ...uint64) ([]uint64, uint64, error) {
	now := time.Now()
	st := &inst.st
	*st = callState{start: now, deadline: now.Add(lim.Timeout), left: lim.MaxFuel}
	if lim.Timeout <= 0 {
		st.deadline = now.Add(24 * time.Hour)
	}
	if lim.MaxFuel == 0 {
		st.left = ^uint64(0)
	}
	q := min(st.left, FuelQuantum)
	st.left -= q
	st.handed = q
	if inst.fuel != nil {
		inst.fuel.Set(q)
	}
	inst.stderr.Reset()
	nres := len(f.Definition().ResultTypes())
	if n := max(len(params), nres); cap(inst.stack) < n {
		inst.stack = make([]uint64, n)
	}
	stack := inst.stack[:max(len(params), nres)]
	copy(stack, params)
	err := f.CallWithStack(ctx, stack)
	vals := stack[:nres]
	// Fuel used: what was handed out less what is left on the counter.
	var used uint64
	if inst.fuel != nil {
		used = st.handed - uint64(max(int64(inst.fuel.Get()), 0))
	}
	if err == nil {
		return vals, used, nil
	}
	if st.reason != nil {
		return nil, used, fmt.Errorf("%w (library %q: %d fuel used, stopped after %v)", st.reason, p.m.Library, used, time.Since(st.start).Round(time.Microsecond))
	}
	var exit *sys.ExitError
	detail := string(firstLines([]byte(err.Error()), 1)) // not wazero's stack trace
	if errors.As(err, &exit) {
		detail = fmt.Sprintf("exit code %d", exit.ExitCode())
	}
	if msg := bytes.TrimSpace(inst.stderr.Bytes()); len(msg) > 0 {
		detail += ": " + string(firstLines(msg, 3))
	}
	return nil, used, fmt.Errorf("%w (library %q): %s", ErrTrap, p.m.Library, detail)
}

func firstLines(b []byte, n int) []byte {
	for i, c := range b {
		if c == '\n' {
			if n--; n == 0 {
				return b[:i]
			}
		}
	}
	return b
}

// Close closes the idle instances.
func (p *Pool) Close(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, inst := range p.idle {
		p.discard(ctx, inst)
	}
	p.idle = nil
}
