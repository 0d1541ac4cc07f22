package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/inos-node/node/bench"
	"github.com/inos-node/node/bench/copyprobe"
	"github.com/inos-node/node/gpu"
	"github.com/inos-node/node/shm"
)

const benchUsage = `usage: inos bench ring [--json] [--quick] [--duration D] [--transports shm,uds,chan] [--spin D]
       inos bench arena [--json] [--quick] [--ops N] [--arena-mib N] [--seed S] [--duration D]
       inos bench sandbox [--json] [--quick] [--duration D] [--cache-dir DIR]
       inos bench zerocopy [--json] [--quick] [--jobs N] [--cache-dir DIR]
       inos bench gpu [--json] [--quick] [--webgpu-lib FILE] [--peak-gbps N] [--link-gbps N]`

func cmdBench(args []string) error {
	if len(args) > 0 && args[0] == "arena" {
		return cmdBenchArena(args[1:])
	}
	if len(args) > 0 && args[0] == "sandbox" {
		return cmdBenchSandbox(args[1:])
	}
	if len(args) > 0 && args[0] == "zerocopy" {
		return cmdBenchZeroCopy(args[1:])
	}
	if len(args) > 0 && args[0] == "gpu" {
		return cmdBenchGPU(args[1:])
	}
	if len(args) == 0 || args[0] != "ring" {
		return errors.New(benchUsage)
	}
	fs := flag.NewFlagSet("bench ring", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	quick := fs.Bool("quick", false, "short subset: 64 B closed loop and one idle gap per transport")
	dur := fs.Duration("duration", 2*time.Second, "length of each measurement")
	transports := fs.String("transports", "line,shm,uds,chan", "transports to measure (line: the machine's core-to-core floor)")
	spin := fs.Duration("spin", shm.DefaultSpin, "spin before parking, node and producer")
	rate := fs.Float64("rate", 10000, "open-loop send rate, per second")
	depth := fs.Int("depth", 256, "jobs in flight in the throughput scenario")
	if err := parseBenchFlags(fs, args[1:]); err != nil {
		return err
	}
	if *quick && !isFlagSet(fs, "duration") {
		*dur = time.Second
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	log, _ := newLogger("warn")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	rep := bench.NewReporter(os.Stdout, *asJSON)
	o := bench.RingOptions{
		Duration: *dur, Quick: *quick, Transports: strings.Split(*transports, ","), Spin: *spin,
		RateHz: *rate, Depth: *depth, Log: log,
		NodeCommand: []string{exe, "run", "--guests=false", "--log-level", "warn", "--spin", spin.String(), "--region"},
		UDSCommand:  []string{exe, "bench-uds-server"},
	}
	if !*asJSON {
		fmt.Printf("inos bench ring: %d CPUs, %s per measurement, spin %s\n\n", runtime.NumCPU(), *dur, *spin)
	}
	err = bench.RunRing(ctx, o, rep)
	rep.Flush()
	return err
}

// cmdBenchArena runs the arena benchmark: allocation traces replayed on the
// arena, on the plain buddy baseline and on Go's heap.
func cmdBenchArena(args []string) error {
	fs := flag.NewFlagSet("bench arena", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	quick := fs.Bool("quick", false, "short run: 64 MiB arena, 100000 ops per trace, 5 s cap per replay")
	ops := fs.Int("ops", 0, "ops per trace (default 1000000; quick 100000)")
	arenaMiB := fs.Uint64("arena-mib", 0, "arena size in MiB (default 256; quick 64)")
	seed := fs.Uint64("seed", 1, "trace seed; the same seed replays the same traces")
	dur := fs.Duration("duration", 0, "cap on one trace's replay on one allocator (default 2m; quick 5s)")
	if err := parseBenchFlags(fs, args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	o := bench.ArenaOptions{Quick: *quick, Ops: *ops, ArenaBytes: *arenaMiB << 20, Seed: *seed, Duration: *dur}
	rep := bench.NewArenaReporter(os.Stdout, *asJSON)
	if !*asJSON {
		fmt.Printf("inos bench arena: %d CPUs, %s\n\n", runtime.NumCPU(), runtime.Version())
	}
	err := bench.RunArena(ctx, o, rep)
	rep.Flush()
	return err
}

// cmdBenchSandbox measures jobs through the node into the bench guest.
func cmdBenchSandbox(args []string) error {
	fs := flag.NewFlagSet("bench sandbox", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	quick := fs.Bool("quick", false, "short run: 400 ms per measurement")
	dur := fs.Duration("duration", 0, "length of each measurement (default 2s; quick 400ms)")
	cacheDir := fs.String("cache-dir", defaultCacheDir(), "wazero's compilation cache (\"\" for none)")
	inProcess := fs.Bool("in-process", false, "run the node in this process instead of a child process")
	scenarios := fs.String("scenarios", "", "comma-separated scenarios to run (empty_call,payload,fuel,image_pipeline,blake3,sha256; default all)")
	if err := parseBenchFlags(fs, args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log, _ := newLogger("warn")
	rep := bench.NewSandboxReporter(os.Stdout, *asJSON)
	o := bench.SandboxOptions{Duration: *dur, Quick: *quick, CacheDir: *cacheDir, Log: log}
	if *scenarios != "" {
		o.Scenarios = strings.Split(*scenarios, ",")
	}
	where := "the node in this process"
	if !*inProcess {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.NodeCommand = []string{exe, "bench-sandbox-node", "--cache-dir", *cacheDir}
		where = "the node in a child process"
	}
	if !*asJSON {
		fmt.Printf("inos bench sandbox: %d CPUs, %s, %s, jobs over the shared-memory rings\n\n", runtime.NumCPU(), runtime.Version(), where)
	}
	err := bench.RunSandbox(ctx, o, rep)
	rep.Flush()
	return err
}

func cmdBenchZeroCopy(args []string) error {
	fs := flag.NewFlagSet("bench zerocopy", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	quick := fs.Bool("quick", false, "10 jobs per row (3 at 64 MiB)")
	jobs := fs.Int("jobs", 0, "jobs per row (default 40, 10 at 64 MiB; quick 10, 3)")
	cacheDir := fs.String("cache-dir", defaultCacheDir(), "wazero's compilation cache (\"\" for none)")
	if err := parseBenchFlags(fs, args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log, _ := newLogger("warn")
	rep := bench.NewZeroCopyReporter(os.Stdout, *asJSON)
	o := bench.ZeroCopyOptions{Quick: *quick, Jobs: *jobs, Log: log,
		NodeCommand: []string{exe, "bench-sandbox-node", "--cache-dir", *cacheDir}, NodeBinary: exe}
	if !*asJSON {
		fmt.Printf("inos bench zerocopy: %d CPUs, %s; producer (this process) → shared memory → node (child) → guest → back,\n"+
			"every memory copy of both processes counted by eBPF uprobes on runtime.memmove and libc memcpy/memmove\n\n", runtime.NumCPU(), runtime.Version())
	}
	err = bench.RunZeroCopy(ctx, o, rep)
	rep.Flush()
	if errors.Is(err, copyprobe.ErrNotPermitted) {
		return fmt.Errorf("%w\n(the probe needs root, or CAP_BPF and CAP_PERFMON)", err)
	}
	return err
}

func cmdBenchGPU(args []string) error {
	fs := flag.NewFlagSet("bench gpu", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	quick := fs.Bool("quick", false, "smaller sizes, fewer samples")
	lib := fs.String("webgpu-lib", "", "the webgpu.h library (default $WEBGPU_LIB; scripts/webgpu.sh installs Dawn's)")
	peak := fs.Float64("peak-gbps", 0, "the device's memory bandwidth, GB/s (default: 3350 on an H100)")
	link := fs.Float64("link-gbps", 0, "the host link's bandwidth, GB/s (default: 63, PCIe 5.0 x16, on an H100)")
	if err := parseBenchFlags(fs, args); err != nil {
		return err
	}
	l, err := gpu.Open(context.Background(), gpu.Options{LibPath: *lib})
	if err != nil {
		return err
	}
	defer l.Close()
	if !*asJSON {
		i := l.Info()
		fmt.Printf("inos bench gpu: %s (%s, %s, %s), %d CPUs beside it\n\n", i.Device, i.Description, i.Backend, i.Type, runtime.NumCPU())
	}
	rep := bench.NewGPUReporter(os.Stdout, *asJSON)
	err = bench.RunGPU(l, bench.GPUOptions{Quick: *quick, PeakGBps: *peak, LinkGBps: *link}, rep)
	rep.Flush()
	return err
}

// parseBenchFlags parses a bench subcommand's flags; the subcommands take
// no arguments besides them.
func parseBenchFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q\n%s", fs.Args(), benchUsage)
	}
	return nil
}

// defaultCacheDir is where wazero keeps compiled guests between runs.
func defaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "inos", "wazero")
}

func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// cmdSandboxNode runs the node the sandbox benchmark measures.
func cmdSandboxNode(args []string) error {
	fs := flag.NewFlagSet("bench-sandbox-node", flag.ContinueOnError)
	cacheDir := fs.String("cache-dir", "", "wazero's compilation cache")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: inos bench-sandbox-node [--cache-dir DIR] REGION")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log, _ := newLogger("warn")
	return bench.SandboxNode(ctx, fs.Arg(0), *cacheDir, log)
}

func cmdUDSServer(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: inos bench-uds-server SOCKET")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return bench.ServeUDSEcho(ctx, args[0])
}
