package copyprobe

import (
	"bufio"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
)

// BulkBytes is the size from which a copy counts as bulk.
const BulkBytes = 4096

// Buckets is the number of histogram buckets: one per power of two.
const Buckets = 64

// MaxSlots is how many processes a Probe tells apart.
const MaxSlots = 16

// Per slot, the stats array holds the histogram, then the bulk copies
// made by the program's own code (count, bytes), then those made by code
// outside its executable's text (count, bytes): JIT-compiled wasm, then
// those made by the engine functions (count, bytes).
const (
	slotStride      = Buckets + 6
	bulkCount       = Buckets
	bulkBytes       = Buckets + 1
	guestBulkCount  = Buckets + 2
	guestBulkBytes  = Buckets + 3
	engineBulkCount = Buckets + 4
	engineBulkBytes = Buckets + 5
)

// engineFuncs are the functions whose copies New counts apart, as
// EngineBulk: wazero's, moving a guest's machine stack to a larger one
// when a call goes deeper than the guest has gone before (the stack starts
// at 10 KiB and doubles; cloneStack copies the part in use). They copy the
// guest's call frames, not job data, a few times in an instance's life, at
// whichever job first goes deeper (a Go guest's first garbage collection,
// say), so a benchmark's warm-up cannot be relied on to have made them.
var engineFuncs = [...]string{
	"github.com/tetratelabs/wazero/internal/engine/wazevo.(*callEngine).cloneStack",
	"github.com/tetratelabs/wazero/internal/engine/wazevo.(*callEngine).growStack",
}

// maxEngineRanges bounds the functions a probe tells apart (each is two
// comparisons in the program).
const maxEngineRanges = 8

// Offsets in x86-64 struct pt_regs.
const (
	ptRegsCX = 11 * 8 // Go's ABIInternal: memmove(to AX, from BX, n CX)
	ptRegsDX = 12 * 8 // System V: memcpy(dst RDI, src RSI, n RDX)
	ptRegsSP = 19 * 8 // at function entry, the return address is at SP
)

// ErrNotPermitted is wrapped by New's error when the kernel refuses to load
// or attach the probe (no CAP_BPF, no uprobes).
var ErrNotPermitted = errors.New("copyprobe: the kernel refused the probe")

// Counts is what a Probe saw in one slot.
type Counts struct {
	Hist      [Buckets]uint64 // copies by size, bucket b: [2^b, 2^(b+1))
	Bulk      uint64          // copies of BulkBytes or more, by the program's own code
	BulkBytes uint64          // their bytes
	// GuestBulk and GuestBulkBytes are the bulk copies called from code
	// outside the executable's text: in the node, the wasm guests' own
	// memory.copy, which wazero compiles to calls of runtime.memmove. They
	// copy within a guest's memory, not between processes or between the
	// host and a guest.
	GuestBulk      uint64
	GuestBulkBytes uint64
	// EngineBulk and EngineBulkBytes are the bulk copies called from the
	// engine functions (for New, wazero's growing a guest's stack: the
	// guest's call frames, moved a few times in an instance's life).
	EngineBulk      uint64
	EngineBulkBytes uint64
}

// Copies is the total number of copies counted.
func (c Counts) Copies() uint64 {
	var n uint64
	for _, v := range c.Hist {
		n += v
	}
	return n
}

// Sub returns c minus an earlier reading.
func (c Counts) Sub(before Counts) Counts {
	for i := range c.Hist {
		c.Hist[i] -= before.Hist[i]
	}
	c.Bulk -= before.Bulk
	c.BulkBytes -= before.BulkBytes
	c.GuestBulk -= before.GuestBulk
	c.GuestBulkBytes -= before.GuestBulkBytes
	c.EngineBulk -= before.EngineBulk
	c.EngineBulkBytes -= before.EngineBulkBytes
	return c
}

// Probe is a set of uprobes counting copies of watched processes.
type Probe struct {
	slots   *ebpf.Map // pid (u32) → slot (u32)
	stats   *ebpf.Map // slot*slotStride + index → u64
	progs   []*ebpf.Program
	targets []target
	links   []link.Link
	// Attached names what the probe attaches to.
	Attached []string
	// LibcErr says why libc is not probed, if it is not.
	LibcErr error
}

// target is one place a program is attached.
type target struct {
	ex     *link.Executable
	symbol string
	prog   *ebpf.Program
	opts   *link.UprobeOptions
}

// New loads the probe for runtime.memmove in each Go executable of
// goBinaries and for libc's memcpy/memmove, and attaches it. No process is
// counted until Watch.
//
// A uprobe traps into the kernel on every call, in every process running
// the file, watched or not: a Go program's memmoves run several times
// slower while the probe is attached. Detach it while timing anything.
func New(goBinaries ...string) (*Probe, error) {
	return newProbe(engineFuncs[:], goBinaries)
}

// newProbe is New with the engine functions given.
func newProbe(engineFuncs, goBinaries []string) (*Probe, error) {
	if runtime.GOARCH != "amd64" {
		return nil, fmt.Errorf("copyprobe: %s is not supported (amd64 only)", runtime.GOARCH)
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotPermitted, err)
	}
	p := &Probe{}
	if err := p.makeMaps(); err != nil {
		p.Close()
		return nil, err
	}
	for _, bin := range goBinaries {
		g, err := readGoBinary(bin, engineFuncs)
		if err != nil {
			p.Close()
			return nil, err
		}
		goProg, err := p.load("go_memmove", ptRegsCX, g.textLo, g.textHi, g.engine)
		if err != nil {
			p.Close()
			return nil, err
		}
		ex, err := link.OpenExecutable(bin)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("copyprobe: %s: %w", bin, err)
		}
		off := g.memmoveOff
		where := fmt.Sprintf("%s:runtime.memmove+%#x (past the small-size branches)", bin, off)
		if g.offErr != nil {
			where = fmt.Sprintf("%s:runtime.memmove (entry: %v)", bin, g.offErr)
		}
		p.targets = append(p.targets, target{ex: ex, symbol: "runtime.memmove", prog: goProg, opts: &link.UprobeOptions{Offset: off}})
		p.Attached = append(p.Attached, where)
	}
	p.LibcErr = p.libcTargets()
	if err := p.Attach(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Attach attaches the probe (again, after Detach).
func (p *Probe) Attach() error {
	if len(p.links) > 0 {
		return nil
	}
	for _, t := range p.targets {
		l, err := t.ex.Uprobe(t.symbol, t.prog, t.opts)
		if err != nil {
			p.Detach()
			if errors.Is(err, os.ErrPermission) {
				return fmt.Errorf("%w: %v", ErrNotPermitted, err)
			}
			return fmt.Errorf("copyprobe: attaching to %s: %w", t.symbol, err)
		}
		p.links = append(p.links, l)
	}
	return nil
}

// Detach removes the uprobes; counts are kept, and Attach resumes.
func (p *Probe) Detach() error {
	var errs []error
	for _, l := range p.links {
		errs = append(errs, l.Close())
	}
	p.links = nil
	return errors.Join(errs...)
}

// largeCopyPath returns the offset in runtime.memmove of the first
// instruction past its small-size branches, which every copy of more than
// 256 bytes executes once and no smaller one does: the instruction that
// reads runtime.memmoveBits (Go 1.26; runtime.useAVXmemmove before it)
// to choose the large-copy algorithm. A uprobe traps on every hit, at a
// cost of microseconds here; a wasm guest's memory.copy calls memmove for
// every small copy (millions a second), so probing the entry would slow
// the node's guests many times over. At this point CX still holds n and
// the return address is still at the top of the stack.
func largeCopyPath(f *elf.File, syms []elf.Symbol) (uint64, error) {
	var fn elf.Symbol
	flags := map[uint64]bool{}
	for _, s := range syms {
		switch s.Name {
		case "runtime.memmove":
			fn = s
		case "runtime.memmoveBits", "runtime.useAVXmemmove":
			flags[s.Value] = true
		}
	}
	if fn.Size == 0 || len(flags) == 0 {
		return 0, errors.New("runtime.memmove or the flag it reads not found")
	}
	text := f.Section(".text")
	if text == nil || fn.Value < text.Addr || fn.Value+fn.Size > text.Addr+text.Size {
		return 0, errors.New("runtime.memmove is not in .text")
	}
	code := make([]byte, fn.Size)
	if _, err := text.ReadAt(code, int64(fn.Value-text.Addr)); err != nil {
		return 0, err
	}
	// A RIP-relative byte load or test of the flag: MOVB rel32(RIP), AL
	// (8A 05 rel32) or TESTB $imm8, rel32(RIP) (F6 05 rel32 imm8).
	for i := 0; i+6 <= len(code); i++ {
		n := 0
		switch {
		case code[i] == 0x8A && code[i+1] == 0x05:
			n = 6
		case code[i] == 0xF6 && code[i+1] == 0x05 && i+7 <= len(code):
			n = 7
		default:
			continue
		}
		rel := int32(binary.LittleEndian.Uint32(code[i+2:]))
		if flags[uint64(int64(fn.Value)+int64(i+n)+int64(rel))] {
			return uint64(i), nil
		}
	}
	return 0, errors.New("no read of the large-copy flag in runtime.memmove")
}

// textRange returns the executable's code addresses, [lo, hi): a copy
// called from there is the program's own; from elsewhere, JIT code's. A
// position-independent executable is loaded at an address known only at
// run time: every copy then counts as the program's own.
func textRange(f *elf.File) (lo, hi uint64, err error) {
	if f.Type != elf.ET_EXEC {
		return 0, math.MaxUint64, nil
	}
	lo = math.MaxUint64
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_LOAD && prog.Flags&elf.PF_X != 0 {
			lo, hi = min(lo, prog.Vaddr), max(hi, prog.Vaddr+prog.Memsz)
		}
	}
	if hi == 0 {
		return 0, 0, errors.New("no executable segment")
	}
	return lo, hi, nil
}

// goBinary is what the probe reads from a Go executable.
type goBinary struct {
	textLo, textHi uint64      // see textRange
	engine         [][2]uint64 // the engine functions' code
	memmoveOff     uint64      // where in runtime.memmove to probe
	offErr         error       // why that is memmove's entry, if it is
}

// readGoBinary reads the executable bin's ELF file once for all the probe
// needs from it.
func readGoBinary(bin string, engineFuncs []string) (goBinary, error) {
	var g goBinary
	f, err := elf.Open(bin)
	if err != nil {
		return g, fmt.Errorf("copyprobe: %w", err)
	}
	defer f.Close()
	if g.textLo, g.textHi, err = textRange(f); err != nil {
		return g, fmt.Errorf("copyprobe: %s: %w", bin, err)
	}
	syms, err := f.Symbols()
	if err != nil {
		if f.Type == elf.ET_EXEC && len(engineFuncs) > 0 {
			return g, fmt.Errorf("copyprobe: %s: %w", bin, err)
		}
		g.offErr = err
		return g, nil
	}
	g.engine = funcRanges(f, syms, engineFuncs)
	g.memmoveOff, g.offErr = largeCopyPath(f, syms)
	if g.offErr != nil {
		g.memmoveOff = 0
	}
	return g, nil
}

// funcRanges returns the address ranges [lo, hi) of the named functions
// among syms, those the executable has (a function may be inlined away or
// not linked in), in a fixed-position executable only.
func funcRanges(f *elf.File, syms []elf.Symbol, names []string) [][2]uint64 {
	if f.Type != elf.ET_EXEC || len(names) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var ranges [][2]uint64
	for _, s := range syms {
		if want[s.Name] && s.Size > 0 && len(ranges) < maxEngineRanges {
			ranges = append(ranges, [2]uint64{s.Value, s.Value + s.Size})
		}
	}
	return ranges
}

// load loads the counting program reading the length at lenOff of pt_regs
// and counting a bulk copy whose caller is in one of the engine ranges as
// the engine's, outside [textLo, textHi) as a guest's.
func (p *Probe) load(name string, lenOff int16, textLo, textHi uint64, engine [][2]uint64) (*ebpf.Program, error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: name, Type: ebpf.Kprobe, License: "Dual MIT/GPL",
		Instructions: program(lenOff, p.slots.FD(), p.stats.FD(), textLo, textHi, engine),
	})
	var verr *ebpf.VerifierError
	switch {
	case errors.As(err, &verr):
		return nil, fmt.Errorf("copyprobe: the verifier refused %s: %+v", name, verr)
	case err != nil:
		return nil, fmt.Errorf("%w: loading %s: %v", ErrNotPermitted, name, err)
	}
	p.progs = append(p.progs, prog)
	return prog, nil
}

// libcTargets adds the implementations libc's memcpy and memmove resolve
// to (see the package doc on IFUNCs).
func (p *Probe) libcTargets() error {
	impls, err := libcCopyFuncs()
	if err != nil {
		return err
	}
	prog, err := p.load("libc_memcpy", ptRegsDX, 0, math.MaxUint64, nil)
	if err != nil {
		return err
	}
	seen := map[uint64]bool{}
	for _, f := range impls {
		if seen[f.offset] {
			continue
		}
		seen[f.offset] = true
		ex, err := link.OpenExecutable(f.path)
		if err != nil {
			return fmt.Errorf("copyprobe: libc %s at %s+%#x: %w", f.name, f.path, f.offset, err)
		}
		p.targets = append(p.targets, target{ex: ex, prog: prog, opts: &link.UprobeOptions{Address: f.offset}})
		p.Attached = append(p.Attached, fmt.Sprintf("%s+%#x (%s)", f.path, f.offset, f.name))
	}
	return nil
}

// libcFunc is a resolved libc function: its file and offset in it.
type libcFunc struct {
	name, path string
	offset     uint64
}

// fileOffset finds the file mapping of this process that holds addr.
func fileOffset(addr uint64) (path string, off uint64, err error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// start-end perms offset dev inode path
		fs := strings.Fields(s.Text())
		if len(fs) < 6 {
			continue
		}
		lo, hi, ok := strings.Cut(fs[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		base, err3 := strconv.ParseUint(fs[2], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil || addr < start || addr >= end {
			continue
		}
		return fs[5], addr - start + base, nil
	}
	return "", 0, fmt.Errorf("copyprobe: no file mapping holds %#x", addr)
}

// Check reports whether the kernel lets this process load the probe: nil,
// or an error wrapping ErrNotPermitted that says why not.
func Check() error {
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("%w: %v", ErrNotPermitted, err)
	}
	p := &Probe{}
	defer p.Close()
	if err := p.makeMaps(); err != nil {
		return err
	}
	_, err := p.load("check", ptRegsCX, 0, math.MaxUint64, nil)
	return err
}

// makeMaps creates the probe's maps: the watched processes' slots and the
// counts.
func (p *Probe) makeMaps() error {
	var err error
	if p.slots, err = ebpf.NewMap(&ebpf.MapSpec{Name: "copy_slots", Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: MaxSlots}); err != nil {
		return fmt.Errorf("%w: %v", ErrNotPermitted, err)
	}
	if p.stats, err = ebpf.NewMap(&ebpf.MapSpec{Name: "copy_stats", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: MaxSlots * slotStride}); err != nil {
		return fmt.Errorf("%w: %v", ErrNotPermitted, err)
	}
	return nil
}

// Watch counts the copies of process pid in slot (0 ≤ slot < MaxSlots).
func (p *Probe) Watch(pid, slot int) error {
	if slot < 0 || slot >= MaxSlots {
		return fmt.Errorf("copyprobe: slot %d out of range", slot)
	}
	return p.slots.Put(uint32(pid), uint32(slot))
}

// Read returns what the probe counted so far in slot.
func (p *Probe) Read(slot int) (Counts, error) {
	var c Counts
	for i := 0; i < slotStride; i++ {
		var v uint64
		if err := p.stats.Lookup(uint32(slot*slotStride+i), &v); err != nil {
			return c, err
		}
		switch {
		case i < Buckets:
			c.Hist[i] = v
		case i == bulkCount:
			c.Bulk = v
		case i == bulkBytes:
			c.BulkBytes = v
		case i == guestBulkCount:
			c.GuestBulk = v
		case i == guestBulkBytes:
			c.GuestBulkBytes = v
		case i == engineBulkCount:
			c.EngineBulk = v
		default:
			c.EngineBulkBytes = v
		}
	}
	return c, nil
}

// Close detaches and unloads the probe.
func (p *Probe) Close() error {
	errs := []error{p.Detach()}
	for _, prog := range p.progs {
		errs = append(errs, prog.Close())
	}
	for _, m := range []*ebpf.Map{p.slots, p.stats} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	return errors.Join(errs...)
}

// program counts one call: if the calling process has a slot, it adds one
// to the size's histogram bucket and, for a bulk copy, one to the bulk
// count and the length to the bulk bytes: the engine's if the return
// address is in one of the engine ranges, else the program's own if it is
// in [textLo, textHi), the guest's otherwise.
func program(lenOff int16, slotsFD, statsFD int, textLo, textHi uint64, engine [][2]uint64) asm.Instructions {
	// add: stats[index] += value (R7, the length) or += 1 (value R1).
	// The lookup clobbers R1-R5, so 1 is loaded after it.
	add := func(label string, index asm.Register, value asm.Register) asm.Instructions {
		ins := asm.Instructions{
			asm.StoreMem(asm.RFP, -8, index, asm.Word),
			asm.LoadMapPtr(asm.R1, statsFD),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -8),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, label),
		}
		if value == asm.R1 {
			ins = append(ins, asm.Mov.Imm(asm.R1, 1))
		}
		return append(ins, asm.AddAtomic.Mem(asm.R0, value, asm.DWord, 0))
	}
	ins := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // ctx: struct pt_regs
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32), // the process id (tgid)
		asm.StoreMem(asm.RFP, -4, asm.R0, asm.Word),
		asm.LoadMapPtr(asm.R1, slotsFD),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.LoadMem(asm.R8, asm.R0, 0, asm.Word), // slot
		asm.Mul.Imm(asm.R8, slotStride),          // its first index
		asm.LoadMem(asm.R7, asm.R6, lenOff, asm.DWord),
		// R9 = floor(log2(n)) (0 for n = 0), by halving steps.
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.Mov.Imm(asm.R9, 0),
	}
	for _, s := range []int32{32, 16, 8, 4, 2, 1} {
		next := "log2_" + strconv.Itoa(int(s))
		ins = append(ins,
			asm.Mov.Reg(asm.R2, asm.R1),
			asm.RSh.Imm(asm.R2, s),
			asm.JEq.Imm(asm.R2, 0, next),
			asm.Add.Imm(asm.R9, s),
			asm.Mov.Reg(asm.R1, asm.R2),
			asm.Mov.Reg(asm.R2, asm.R2).WithSymbol(next), // a no-op to carry the label
		)
	}
	ins = append(ins, asm.Add.Reg(asm.R9, asm.R8))
	ins = append(ins, add("exit", asm.R9, asm.R1)...)
	ins = append(ins,
		asm.JLT.Imm(asm.R7, BulkBytes, "exit"),
		// The caller: the return address at the top of the stack.
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, -16),
		asm.Mov.Imm(asm.R2, 8),
		asm.LoadMem(asm.R3, asm.R6, ptRegsSP, asm.DWord),
		asm.FnProbeReadUser.Call(),
		asm.LoadMem(asm.R1, asm.RFP, -16, asm.DWord),
		asm.JNE.Imm(asm.R0, 0, "host"), // unreadable: count it as the program's
	)
	for i, r := range engine {
		next := "engine_" + strconv.Itoa(i)
		ins = append(ins,
			asm.LoadImm(asm.R2, int64(r[0]), asm.DWord),
			asm.JLT.Reg(asm.R1, asm.R2, next),
			asm.LoadImm(asm.R2, int64(r[1]), asm.DWord),
			asm.JLT.Reg(asm.R1, asm.R2, "engine"),
			asm.Mov.Reg(asm.R2, asm.R2).WithSymbol(next), // a no-op to carry the label
		)
	}
	ins = append(ins,
		asm.LoadImm(asm.R2, int64(textLo), asm.DWord),
		asm.JLT.Reg(asm.R1, asm.R2, "guest"),
		asm.LoadImm(asm.R2, int64(textHi), asm.DWord),
		asm.JGE.Reg(asm.R1, asm.R2, "guest"),
	)
	// count adds one copy of R7 bytes to the class whose count is at
	// index (its bytes at index+1), starting at the label, then exits.
	count := func(label string, index int32) asm.Instructions {
		ins := asm.Instructions{
			asm.Mov.Reg(asm.R9, asm.R8).WithSymbol(label),
			asm.Add.Imm(asm.R9, index),
		}
		ins = append(ins, add("exit", asm.R9, asm.R1)...)
		ins = append(ins, asm.Mov.Reg(asm.R9, asm.R8), asm.Add.Imm(asm.R9, index+1))
		ins = append(ins, add("exit", asm.R9, asm.R7)...)
		return append(ins, asm.Ja.Label("exit"))
	}
	ins = append(ins, count("host", bulkCount)...)
	ins = append(ins, count("guest", guestBulkCount)...)
	// The verifier refuses unreachable code: this class only with ranges.
	if len(engine) > 0 {
		ins = append(ins, count("engine", engineBulkCount)...)
	}
	return append(ins,
		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
	)
}
