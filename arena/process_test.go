package arena

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The multi-process test re-executes the test binary as workers that share
// one arena in a MAP_SHARED file: Go's race detector cannot see races
// between processes; this test can.

const procArenaSize = 8 << 20

var procCfg = Config{Size: procArenaSize, MaxHandles: 4096}

func TestMain(m *testing.M) {
	if role := os.Getenv("INOS_ARENA_ROLE"); role != "" {
		if err := arenaRole(role, os.Getenv("INOS_ARENA_FILE")); err != nil {
			fmt.Fprintln(os.Stderr, "role", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func mapArenaFile(path string, create bool) (*Arena, []byte, error) {
	ms, _ := MetaSize(procCfg)
	ms = (ms + 4095) &^ 4095
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if create {
		if err := f.Truncate(int64(ms + procArenaSize)); err != nil {
			return nil, nil, err
		}
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(ms+procArenaSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	if create {
		a, err := Init(mem[:ms], mem[ms:], procCfg)
		return a, mem, err
	}
	a, err := Attach(mem[:ms], mem[ms:])
	return a, mem, err
}

// arenaRole runs one worker: "worker" allocates, fills, verifies and frees
// blocks of random sizes with its pid as owner until killed or done;
// "holder" takes the lock and never lets go (until SIGKILL).
func arenaRole(role, path string) error {
	a, _, err := mapArenaFile(path, false)
	if err != nil {
		return err
	}
	owner := Owner(os.Getpid() % 60000)
	switch role {
	case "holder":
		a.lockArena()
		fmt.Println("locked")
		time.Sleep(time.Hour)
	case "worker":
		rounds, _ := strconv.Atoi(os.Getenv("INOS_ARENA_ROUNDS"))
		rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 5))
		type blk struct {
			h    Handle
			n    uint64
			fill byte
		}
		var live []blk
		fmt.Println("ready")
		for i := 0; rounds == 0 || i < rounds; i++ {
			if len(live) < 32 && rng.IntN(3) != 0 {
				n := uint64(1 + rng.IntN(64<<10))
				h, off, err := a.Alloc(owner, n)
				if err != nil {
					continue // full: others hold the space for now
				}
				b := blk{h, n, byte(rng.IntN(256))}
				for j := uint64(0); j < n; j++ {
					a.data[off+j] = b.fill
				}
				live = append(live, b)
				continue
			}
			if len(live) == 0 {
				continue
			}
			k := rng.IntN(len(live))
			b := live[k]
			off, err := a.Pin(b.h)
			if err != nil {
				return fmt.Errorf("pin own block: %w", err)
			}
			for j := uint64(0); j < b.n; j++ {
				if a.data[off+j] != b.fill {
					return fmt.Errorf("block %x byte %d: %d, want %d (another process wrote it)", b.h, j, a.data[off+j], b.fill)
				}
			}
			a.Unpin(b.h)
			if err := a.Free(owner, b.h); err != nil {
				return fmt.Errorf("free own block: %w", err)
			}
			live = append(live[:k], live[k+1:]...)
		}
		for _, b := range live {
			if err := a.Free(owner, b.h); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown role %q", role)
}

func spawnArena(t *testing.T, role, path string, env ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"INOS_ARENA_ROLE=" + role, "INOS_ARENA_FILE=" + path}, env...)...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := bufio.NewReader(out)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatalf("%s did not start: %v", role, err)
	}
	return cmd, r
}

// TestProcessesShareArena: workers in separate processes allocate and free
// concurrently while victims are SIGKILLed mid-work — one of them while it
// holds the arena's lock. The survivors finish, every block keeps its
// bytes, the dead owners' blocks are reclaimed, and the arena ends empty
// and consistent.
func TestProcessesShareArena(t *testing.T) {
	dir := "/dev/shm"
	if _, err := os.Stat(dir); err != nil {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("inos-arena-test-%d", os.Getpid()))
	defer os.Remove(path)
	a, _, err := mapArenaFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	rounds := 20000
	if testing.Short() {
		rounds = 3000
	}
	var workers []*exec.Cmd
	for i := 0; i < 3; i++ {
		w, _ := spawnArena(t, "worker", path, "INOS_ARENA_ROUNDS="+strconv.Itoa(rounds))
		workers = append(workers, w)
	}
	var dead []Owner
	for i := 0; i < 5; i++ {
		v, _ := spawnArena(t, "worker", path, "INOS_ARENA_ROUNDS=0")
		time.Sleep(time.Duration(2+i*3) * time.Millisecond)
		v.Process.Kill()
		v.Wait()
		dead = append(dead, Owner(v.Process.Pid%60000))
	}
	holder, _ := spawnArena(t, "holder", path)
	time.Sleep(20 * time.Millisecond) // the workers queue on the lock
	holder.Process.Kill()
	holder.Wait()
	for i, w := range workers {
		if err := w.Wait(); err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
	}
	reclaimed := 0
	for _, o := range dead {
		reclaimed += a.ReclaimOwner(o)
	}
	checkInvariants(t, a)
	s := a.Stats()
	if s.Live != 0 || s.Free+s.Cached != procArenaSize || s.Recoveries < 1 {
		t.Fatalf("after all: %+v", s)
	}
	t.Logf("3 workers × %d ops, 5 workers SIGKILLed mid-work (%d blocks reclaimed), 1 lock holder SIGKILLed (%d recoveries); %d allocs, %d frees",
		rounds, reclaimed, s.Recoveries, s.Allocs, s.Frees)
}
