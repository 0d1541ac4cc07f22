package fuel

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// meter is the test host's side of the contract, as the sandbox will run it:
// it grants fuel in quanta from a job budget and traps when the budget is
// spent or the deadline has passed. It counts what it granted, so that the
// fuel a run consumed is granted minus what is left in the counter.
type meter struct {
	quantum  int64
	budget   int64     // fuel left to grant
	deadline time.Time // zero: none

	calls   int
	granted int64
	fuel    api.MutableGlobal // the counter of the module that called last
}

var (
	errBudget   = errors.New("fuel budget spent")
	errDeadline = errors.New("deadline passed")
)

func newMeter(quantum, budget int64) *meter { return &meter{quantum: quantum, budget: budget} }

// hook is inos.fuel_exhausted. A panic in a host function makes wazero
// unwind the guest and return the panic value, wrapped, from the call.
func (m *meter) hook(mod api.Module) {
	g := mod.ExportedGlobal("inos_fuel").(api.MutableGlobal)
	m.fuel = g
	m.calls++
	if !m.deadline.IsZero() && time.Now().After(m.deadline) {
		panic(errDeadline)
	}
	if m.budget <= 0 {
		panic(errBudget)
	}
	q := min(m.quantum, m.budget)
	m.budget -= q
	m.granted += q
	g.Set(uint64(int64(g.Get()) + q))
}

// consumed is the fuel charged so far (the counter starts at 0).
func (m *meter) consumed() int64 {
	if m.fuel == nil {
		return 0
	}
	return m.granted - int64(m.fuel.Get())
}

type meterKey struct{}

// newRuntime returns a wazero runtime with the inos host module; the hook
// charges the *meter found in the calling context.
func newRuntime(t testing.TB, cfg wazero.RuntimeConfig) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { r.Close(ctx) })
	_, err := r.NewHostModuleBuilder("inos").
		NewFunctionBuilder().
		WithFunc(func(ctx context.Context, mod api.Module) {
			ctx.Value(meterKey{}).(*meter).hook(mod)
		}).
		Export("fuel_exhausted").
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func withMeter(m *meter) context.Context {
	return context.WithValue(context.Background(), meterKey{}, m)
}

func mustInstrument(t testing.TB, wasm []byte) []byte {
	t.Helper()
	out, err := Instrument(wasm, Options{})
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	return out
}

// callF instantiates wasm under meter m and calls its export "f" with args.
func callF(t testing.TB, r wazero.Runtime, wasm []byte, m *meter, args ...uint64) ([]uint64, error) {
	t.Helper()
	ctx := withMeter(m)
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	return mod.ExportedFunction("f").Call(ctx, args...)
}
