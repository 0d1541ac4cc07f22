package shm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

var testLayout = LayoutConfig{InboxBytes: 8192, OutboxBytes: 1000, MaxProducers: 4, ArenaMetaBytes: 5000, HeapBytes: 256 << 10}

func TestMain(m *testing.M) {
	if os.Getenv("INOS_SHM_ROLE") == "ponger" {
		if err := ponger(os.Getenv("INOS_SHM_FILE"), envN()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func envN() int { n, _ := strconv.Atoi(os.Getenv("INOS_SHM_N")); return n }

func TestLayoutIsAlignedAndDisjoint(t *testing.T) {
	l, err := NewLayout(testLayout)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.check(l.Size); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if l.Outbox(i)%128 != 0 {
			t.Fatalf("slot %d: outbox %d misaligned", i, l.Outbox(i))
		}
	}
	if l.ArenaMetaOff%4096 != 0 || l.HeapOff%4096 != 0 || l.HeapOff < l.ArenaMetaOff+l.ArenaMetaSize {
		t.Fatalf("arena sections misplaced: %+v", l)
	}
	if _, err := NewLayout(LayoutConfig{InboxBytes: 1, OutboxBytes: 1, MaxProducers: 0, ArenaMetaBytes: 1, HeapBytes: 1}); err == nil {
		t.Fatal("zero producers accepted")
	}
}

func TestCreateAttachClose(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir}
	r, err := Create("a", testLayout, opts)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Attach("a", opts)
	if err != nil {
		t.Fatal(err)
	}
	if a.Layout() != r.Layout() || a.NodePID() != os.Getpid() || a.Created() != r.Created() {
		t.Fatalf("attached header differs: %+v vs %+v", a.Layout(), r.Layout())
	}
	// Both mappings see the same bytes.
	r.Bytes()[r.Layout().HeapOff] = 42
	if a.Bytes()[a.Layout().HeapOff] != 42 {
		t.Fatal("mappings are not shared")
	}
	if _, err := Create("a", testLayout, opts); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Create: %v, want ErrBusy", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.NodeAlive(); !errors.Is(err, ErrNoNode) {
		t.Fatalf("after node Close: %v, want ErrNoNode", err)
	}
	a.Close()
	if _, err := Attach("a", opts); !errors.Is(err, ErrNoNode) {
		t.Fatalf("Attach after Close: %v", err)
	}
}

func TestAttachRefusesBadHeaders(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir}
	r, err := Create("h", testLayout, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := r.Bytes()
	tests := []struct {
		name  string
		patch func()
		undo  func()
		want  error
	}{
		{"magic", func() { h[0] = 'X' }, func() { h[0] = 'I' }, ErrBadMagic},
		{"version", func() { binary.LittleEndian.PutUint32(h[hdrVersion:], 99) }, func() { binary.LittleEndian.PutUint32(h[hdrVersion:], Version) }, ErrVersion},
		{"layout overlaps", func() { binary.LittleEndian.PutUint64(h[hdrLayout+8*2:], 0) }, func() { r.layout.put(h) }, ErrBadLayout},
		{"layout past the end", func() { binary.LittleEndian.PutUint64(h[hdrLayout+8*11:], 1<<40) }, func() { r.layout.put(h) }, ErrBadLayout},
		{"not ready", func() { r.u32(hdrState).Store(0) }, func() { r.u32(hdrState).Store(StateReady) }, ErrNotReady},
		{"dead node", func() { binary.LittleEndian.PutUint32(h[hdrNodePID:], 0x7ffffff0) }, func() { binary.LittleEndian.PutUint32(h[hdrNodePID:], uint32(os.Getpid())) }, ErrNoNode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.patch()
			defer tc.undo()
			a, err := Attach("h", opts)
			if !errors.Is(err, tc.want) {
				if a != nil {
					a.Close()
				}
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			t.Log(err)
		})
	}
	a, err := Attach("h", opts)
	if err != nil {
		t.Fatalf("after undoing every patch: %v", err)
	}
	a.Close()
	if _, err := Attach("no-such", opts); !errors.Is(err, ErrNoNode) {
		t.Fatalf("missing region: %v", err)
	}
	if _, err := Create("../x", testLayout, opts); err == nil {
		t.Fatal("path in name accepted")
	}
}

// TestStaleRegionReplaced leaves a region behind as a crashed node would
// (file present, lock free) and checks that the next node replaces it.
func TestStaleRegionReplaced(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir}
	r, err := Create("s", testLayout, opts)
	if err != nil {
		t.Fatal(err)
	}
	old := r.Created()
	// Crash: drop the lock and the mapping without marking anything.
	r.lock.Close()
	r.release()
	if _, err := os.Stat(Path("s", opts)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	r2, err := Create("s", testLayout, opts)
	if err != nil {
		t.Fatalf("Create over a stale region: %v", err)
	}
	defer r2.Close()
	if r2.Created() == old {
		t.Fatal("stale region reused")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}
}

func TestRegistry(t *testing.T) {
	r, err := Create("g", testLayout, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	g := r.Producers()
	start, _, _ := ProcStartTime(os.Getpid())
	slots := map[int]bool{}
	for i := 0; i < g.Len(); i++ {
		s, gen, err := g.Register(os.Getpid(), start)
		if err != nil || slots[s] || gen != 1 {
			t.Fatalf("register %d: slot %d gen %d err %v", i, s, gen, err)
		}
		slots[s] = true
	}
	if _, _, err := g.Register(os.Getpid(), start); !errors.Is(err, ErrRegistryFull) {
		t.Fatalf("full table: %v", err)
	}
	if g.NeedsReclaim(g.Info(0)) {
		t.Fatal("live producer marked for reclaim")
	}
	// A producer whose pid is dead, or reused by another process.
	dead := g.Info(1)
	g.word(1).Store(packWord(SlotActive, 0x7ffffff0))
	if !g.NeedsReclaim(g.Info(1)) {
		t.Fatal("dead pid not reclaimed")
	}
	g.word(1).Store(packWord(SlotActive, dead.PID))
	g.u64(1, entStart).Store(start + 1)
	if !g.NeedsReclaim(g.Info(1)) {
		t.Fatal("reused pid not reclaimed")
	}
	if !g.Leave(2, os.Getpid()) || !g.NeedsReclaim(g.Info(2)) {
		t.Fatal("departed producer not reclaimed")
	}
	p := g.Info(2)
	if !g.BeginReclaim(p) || g.BeginReclaim(p) {
		t.Fatal("BeginReclaim must succeed once")
	}
	g.Free(2)
	s, gen, err := g.Register(os.Getpid(), start)
	if err != nil || s != 2 || gen != 2 || !g.Active(2, 2) || g.Active(2, 1) {
		t.Fatalf("re-register: slot %d gen %d err %v", s, gen, err)
	}
}

func TestProcStartTime(t *testing.T) {
	s, running, err := ProcStartTime(os.Getpid())
	if err != nil || !running || s == 0 {
		t.Fatalf("self: %d %v %v", s, running, err)
	}
	// A zombie is dead.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for ProcessAlive(pid, 0) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if ProcessAlive(pid, 0) {
		t.Fatal("exited child (zombie) still alive")
	}
	cmd.Wait()
	if ProcessAlive(pid, 0) {
		t.Fatal("reaped child still alive")
	}
}

// pingPong lays two counters and two epochs in a file:
// [0] ping counter, [64] epoch A, [128] pong counter, [192] epoch B.
func counters(mem []byte) (ping, pong *atomic.Uint32, a, b Epoch) {
	return (*atomic.Uint32)(unsafe.Pointer(&mem[0])), (*atomic.Uint32)(unsafe.Pointer(&mem[128])),
		EpochAt(mem[64:]), EpochAt(mem[192:])
}

func mapTestFile(t testing.TB, path string) []byte {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(4096); err != nil {
		t.Fatal(err)
	}
	mem, err := mapFile(f, 4096)
	if err != nil {
		t.Fatal(err)
	}
	return mem
}

// ponger answers every ping with a pong, parking between (no spin).
func ponger(path string, n int) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	mem, err := mapFile(f, 4096)
	f.Close()
	if err != nil {
		return err
	}
	ping, pong, a, b := counters(mem)
	p := WaitPolicy{Park: 5 * time.Second}
	for i := uint32(1); i <= uint32(n); i++ {
		start := time.Now()
		if _, err := a.Wait(context.Background(), p, func() bool { return ping.Load() >= i }); err != nil {
			return err
		}
		if d := time.Since(start); d > time.Second {
			return fmt.Errorf("ping %d: woke after %v: a wake-up was lost", i, d)
		}
		pong.Store(i)
		b.Bump()
	}
	return nil
}

// TestNoLostWakeups ping-pongs between two processes through two epochs
// with no spinning, so every wait parks in the kernel. Each park lasts up
// to 5 s; a lost wake-up shows as a wait of over a second.
func TestNoLostWakeups(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	path := filepath.Join(DefaultDir, fmt.Sprintf("inos-test-epoch-%d", os.Getpid()))
	if _, err := os.Stat(DefaultDir); err != nil {
		path = filepath.Join(t.TempDir(), "epoch")
	}
	defer os.Remove(path)
	mem := mapTestFile(t, path)
	ping, pong, a, b := counters(mem)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "INOS_SHM_ROLE=ponger", "INOS_SHM_FILE="+path, "INOS_SHM_N="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := WaitPolicy{Park: 5 * time.Second}
	parked := 0
	var worst time.Duration
	for i := uint32(1); i <= uint32(n); i++ {
		ping.Store(i)
		a.Bump()
		start := time.Now()
		st, err := b.Wait(context.Background(), p, func() bool { return pong.Load() >= i })
		if err != nil {
			t.Fatal(err)
		}
		parked += st.Parked
		if d := time.Since(start); d > worst {
			worst = d
		}
		if worst > time.Second {
			t.Fatalf("pong %d: woke after %v: a wake-up was lost", i, worst)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ponger: %v", err)
	}
	if parked == 0 {
		t.Fatal("no wait ever parked: the test did not exercise the futex path")
	}
	t.Logf("%d round trips between processes, %d parked waits, worst wait %v", n, parked, worst)
}

func TestWaitHonoursContextAndAlive(t *testing.T) {
	mem := make([]byte, 64)
	e := EpochAt(mem)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := e.Wait(ctx, WaitPolicy{Park: time.Second}, func() bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait past deadline: %v", err)
	}
	gone := errors.New("peer gone")
	if _, err := e.Wait(context.Background(), WaitPolicy{Park: time.Millisecond, Alive: func() error { return gone }}, func() bool { return false }); !errors.Is(err, gone) {
		t.Fatalf("wait with dead peer: %v", err)
	}
	if e.Sleepers() != 0 {
		t.Fatalf("sleepers left: %d", e.Sleepers())
	}
}
