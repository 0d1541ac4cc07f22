package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/inos-node/node/guests/builtin"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/shm"
)

// nodeFlags are the node's configuration flags, shared by run and demo.
type nodeFlags struct {
	region                   string
	inbox, outbox, producers int
	heapMiB                  int
	batch                    int
	spin, park, housekeeping time.Duration
	logLevel                 string
}

func (f *nodeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.region, "region", "", "shared region name (/dev/shm/inos-NAME); may also be the first argument")
	fs.IntVar(&f.inbox, "inbox", 4096, "inbox ring slots (power of two)")
	fs.IntVar(&f.outbox, "outbox", 1024, "outbox ring slots per producer (power of two)")
	fs.IntVar(&f.producers, "producers", 16, "producer slots")
	fs.IntVar(&f.heapMiB, "heap-mib", 512, "shared heap (the arena producers and the node allocate from), MiB")
	fs.IntVar(&f.batch, "batch", 10, "most jobs the dispatcher takes per wake")
	fs.DurationVar(&f.spin, "spin", shm.DefaultSpin, "how long the dispatcher spins before parking")
	fs.DurationVar(&f.park, "park", shm.DefaultPark, "longest single futex sleep")
	fs.DurationVar(&f.housekeeping, "housekeeping", 100*time.Millisecond, "heartbeat and producer-scan period")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
}

func (f *nodeFlags) config() (kernel.Config, error) {
	log, err := newLogger(f.logLevel)
	if err != nil {
		return kernel.Config{}, err
	}
	return kernel.Config{
		Region: f.region, InboxCap: f.inbox, OutboxCap: f.outbox, MaxProducers: f.producers,
		HeapBytes: uint64(f.heapMiB) << 20, Batch: f.batch,
		Wait:         shm.WaitPolicy{Spin: f.spin, Park: f.park},
		Housekeeping: f.housekeeping, Logger: log,
	}, nil
}

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var nf nodeFlags
	nf.register(fs)
	guests := fs.Bool("guests", true, "serve the built-in wasm guest libraries (image, crypto, bench) beside echo and noop")
	cacheDir := fs.String("cache-dir", defaultCacheDir(), "wazero's compilation cache (\"\" for none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if nf.region == "" && fs.NArg() == 1 {
		nf.region = fs.Arg(0)
	}
	if nf.region == "" {
		return errors.New("--region is required")
	}
	cfg, err := nf.config()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if *guests {
		reg, closeGuests, err := guestRegistry(ctx, *cacheDir)
		if err != nil {
			return err
		}
		defer closeGuests()
		cfg.Libraries = reg
	}
	n, err := kernel.New(cfg)
	if err != nil {
		return err
	}
	runErr := n.Run(ctx)
	st, hs := n.Stats(), n.HeapStats()
	cfg.Logger.Info("node stopping", "jobs", st.Jobs, "failed", st.Failed, "dropped", st.Dropped,
		"reclaimed", st.Reclaimed, "abandoned", st.Abandoned, "parks", st.Parks,
		"heap_live", hs.Live, "heap_efficiency", fmt.Sprintf("%.3f", hs.Efficiency),
		"heap_external_frag", fmt.Sprintf("%.3f", hs.ExternalFrag), "heap_compactions", hs.Compactions)
	if err := n.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// guestRegistry returns the built-in library set (guests/builtin): echo,
// noop and the wasm guests, each with its product limits.
func guestRegistry(ctx context.Context, cacheDir string) (*kernel.Registry, func(), error) {
	set, err := builtin.Load(ctx, builtin.Options{CacheDir: cacheDir})
	if err != nil {
		return nil, nil, err
	}
	return set.Registry, func() { set.Close(context.Background()) }, nil
}
