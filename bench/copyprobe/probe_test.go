package copyprobe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
)

// copier is a child process that copies when told (testdata/copier).
type copier struct {
	cmd *exec.Cmd
	in  io.Writer
	out *bufio.Scanner
}

func startCopier(t *testing.T) (*copier, string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "copier")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/copier").CombinedOutput(); err != nil {
		t.Fatalf("building the copier: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return &copier{cmd: cmd, in: in, out: bufio.NewScanner(out)}, bin
}

func (c *copier) do(t *testing.T, how string, n int) {
	t.Helper()
	fmt.Fprintf(c.in, "%s %d\n", how, n)
	if !c.out.Scan() || c.out.Text() != "ok" {
		t.Fatalf("copier: %q %v", c.out.Text(), c.out.Err())
	}
}

// TestProbeReadsKnownCopies: copies of known sizes, made by another
// process through Go's runtime.memmove and through libc's memcpy, land in
// the right buckets with the right byte totals. The sizes are odd ones
// (3 MiB + 7 and 12345 bytes) that the copier's runtime does not copy
// between commands, so the counts must be exact; a process not watched is
// not counted.
func TestProbeReadsKnownCopies(t *testing.T) {
	c, bin := startCopier(t)
	p, err := newProbe(append([]string{"main.engineCopy"}, engineFuncs[:]...), []string{bin})
	if errors.Is(err, ErrNotPermitted) {
		t.Skipf("eBPF uprobes are not permitted here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	t.Logf("attached: %v (libc: %v)", p.Attached, p.LibcErr)
	const slot = 3
	if err := p.Watch(c.cmd.Process.Pid, slot); err != nil {
		t.Fatal(err)
	}
	sizes := []int{3<<20 + 7, 12345, 300}
	// 3 MiB+7 is in [2^21, 2^22); 12345 in [2^13, 2^14); 300 in [2^8, 2^9).
	want := map[int]uint64{21: 3, 13: 3, 8: 3}
	wantBytes := uint64(3*(3<<20+7) + 3*12345)
	for _, how := range []string{"go", "engine", "libc"} {
		if how == "libc" && p.LibcErr != nil {
			t.Logf("libc not probed: %v", p.LibcErr)
			continue
		}
		before, err := p.Read(slot)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range sizes {
			for i := 0; i < 3; i++ {
				c.do(t, how, n)
			}
		}
		after, err := p.Read(slot)
		if err != nil {
			t.Fatal(err)
		}
		d := after.Sub(before)
		for bucket, n := range want {
			if d.Hist[bucket] != n {
				t.Errorf("%s: bucket %d (%d–%d bytes) counted %d copies, want %d", how, bucket, 1<<bucket, 1<<(bucket+1)-1, d.Hist[bucket], n)
			}
		}
		// The copier's own small copies (fmt, bufio) are under 4 KiB.
		// Those from the function named as an engine's count apart.
		bulk, engine := d.Bulk, d.EngineBulk
		bulkBytes, engineBytes := d.BulkBytes, d.EngineBulkBytes
		if how == "engine" {
			bulk, engine, bulkBytes, engineBytes = engine, bulk, engineBytes, bulkBytes
		}
		if bulk != 6 || bulkBytes != wantBytes || d.GuestBulk != 0 || engine != 0 || engineBytes != 0 {
			t.Errorf("%s: %d bulk copies of %d bytes (%d by JIT code), %d of %d bytes in the other class; want 6 of %d, none, none",
				how, bulk, bulkBytes, d.GuestBulk, engine, engineBytes, wantBytes)
		}
		t.Logf("%s: %d copies, %d bulk, %d bulk bytes, %d by the engine function", how, d.Copies(), d.Bulk, d.BulkBytes, d.EngineBulk)
	}

	// wazero growing a guest's stack: a recursion 100000 deep takes it
	// from 10 KiB to megabytes, in several moves, each counted apart.
	c.do(t, "wasminit", 0)
	before, err := p.Read(slot)
	if err != nil {
		t.Fatal(err)
	}
	c.do(t, "wasm", 100000)
	after, err := p.Read(slot)
	if err != nil {
		t.Fatal(err)
	}
	if d := after.Sub(before); d.EngineBulk == 0 || d.Bulk != 0 || d.GuestBulk != 0 {
		t.Errorf("a deep wasm call: %d stack moves (%d bytes), %d other bulk copies, %d by JIT code; want moves and nothing else",
			d.EngineBulk, d.EngineBulkBytes, d.Bulk, d.GuestBulk)
	} else {
		t.Logf("a deep wasm call: %d stack moves, %d bytes", d.EngineBulk, d.EngineBulkBytes)
	}

	if err := p.slots.Delete(uint32(c.cmd.Process.Pid)); err != nil {
		t.Fatal(err)
	}
	before, _ = p.Read(slot)
	c.do(t, "go", 3<<20+7)
	after, _ = p.Read(slot)
	if d := after.Sub(before); d.Copies() != 0 {
		t.Errorf("a process no longer watched was counted: %d copies", d.Copies())
	}
}
