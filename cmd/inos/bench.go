package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/inos-node/node/bench"
	"github.com/inos-node/node/shm"
)

func cmdBench(args []string) error {
	if len(args) == 0 || args[0] != "ring" {
		return errors.New("usage: inos bench ring [--json] [--quick] [--duration D] [--transports shm,uds,chan] [--spin D]")
	}
	fs := flag.NewFlagSet("bench ring", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	quick := fs.Bool("quick", false, "short subset: 64 B closed loop and one idle gap per transport")
	dur := fs.Duration("duration", 2*time.Second, "length of each measurement")
	transports := fs.String("transports", "line,shm,uds,chan", "transports to measure (line: the machine's core-to-core floor)")
	spin := fs.Duration("spin", shm.DefaultSpin, "spin before parking, node and producer")
	rate := fs.Float64("rate", 10000, "open-loop send rate, per second")
	depth := fs.Int("depth", 256, "jobs in flight in the throughput scenario")
	if err := fs.Parse(args[1:]); err != nil {
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
		NodeCommand: []string{exe, "run", "--log-level", "warn", "--spin", spin.String(), "--region"},
		UDSCommand:  []string{exe, "bench-uds-server"},
	}
	if !*asJSON {
		fmt.Printf("inos bench ring: %d CPUs, %s per measurement, spin %s\n\n", runtime.NumCPU(), *dur, *spin)
	}
	err = bench.RunRing(ctx, o, rep)
	rep.Flush()
	return err
}

func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func cmdUDSServer(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: inos bench-uds-server SOCKET")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return bench.ServeUDSEcho(ctx, args[0])
}
