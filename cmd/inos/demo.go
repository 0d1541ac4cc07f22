package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/inos-node/node/arena"
	"github.com/inos-node/node/bench"
	"github.com/inos-node/node/client"
	"github.com/inos-node/node/shm"
)

// demoReport is what one demo producer prints on stdout: a histogram per
// job kind, exported so the parent can merge them.
type demoReport struct {
	Kinds map[string]*demoKind `json:"kinds"`
}

type demoKind struct {
	Jobs   int64                  `json:"jobs"`
	Errors int64                  `json:"errors"`
	Hist   *hdrhistogram.Snapshot `json:"hist"`
}

// demoJobs is the mixed workload: echo of several payload sizes, noop, and
// a share of bad jobs that the node must refuse while it keeps serving.
var demoJobs = []struct {
	name    string
	lib     string
	method  string
	params  string
	payload int
	weight  int
	wantErr bool
}{
	{"echo 64B", "echo", "echo", `{}`, 64, 30, false},
	{"echo 4KiB", "echo", "echo", `{"note":"4 KiB"}`, 4 << 10, 25, false},
	{"echo 64KiB", "echo", "echo", `{}`, 64 << 10, 20, false},
	{"echo 1MiB", "echo", "echo", `{}`, 1 << 20, 10, false},
	{"noop", "noop", "noop", ``, 0, 10, false},
	{"bad params (refused)", "echo", "echo", `{"__proto__":1}`, 64, 2, true},
	{"unknown method (refused)", "echo", "nope", `{}`, 64, 3, true},
}

func cmdDemo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	producers := fs.Int("producers", 2, "producer processes")
	jobs := fs.Int("jobs", 20000, "jobs per producer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	region := fmt.Sprintf("demo-%d", os.Getpid())
	fmt.Printf("INOS node demo: a node and %d producer processes, %d jobs each, through shared memory (/dev/shm/inos-%s)\n",
		*producers, *jobs, region)
	node := exec.Command(exe, "run", "--log-level", "warn", "--region", region)
	node.Stderr = os.Stderr
	node.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := node.Start(); err != nil {
		return err
	}
	defer func() {
		node.Process.Signal(syscall.SIGTERM)
		node.Wait()
	}()
	// Wait until the node serves the region.
	c, err := bench.AttachRetry(context.Background(), region, client.Options{}, 10*time.Second)
	if err != nil {
		return err
	}
	c.Close()

	start := time.Now()
	outs := make([]*bytes.Buffer, *producers)
	cmds := make([]*exec.Cmd, *producers)
	for i := range cmds {
		outs[i] = &bytes.Buffer{}
		cmds[i] = exec.Command(exe, "demo-producer", "--region", region, "--jobs", strconv.Itoa(*jobs), "--seed", strconv.Itoa(i+1))
		cmds[i].Stdout, cmds[i].Stderr = outs[i], os.Stderr
		cmds[i].SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmds[i].Start(); err != nil {
			return err
		}
	}
	total := map[string]*demoKind{}
	merged := map[string]*hdrhistogram.Histogram{}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("producer %d: %w", i, err)
		}
		var rep demoReport
		if err := json.Unmarshal(outs[i].Bytes(), &rep); err != nil {
			return fmt.Errorf("producer %d report: %w", i, err)
		}
		for k, v := range rep.Kinds {
			t := total[k]
			if t == nil {
				t = &demoKind{}
				total[k] = t
				merged[k] = bench.NewHistogram()
			}
			t.Jobs += v.Jobs
			t.Errors += v.Errors
			merged[k].Merge(hdrhistogram.Import(v.Hist))
		}
	}
	elapsed := time.Since(start)
	names := make([]string, 0, len(total))
	var all int64
	for k, v := range total {
		names = append(names, k)
		all += v.Jobs
	}
	sort.Strings(names)
	fmt.Printf("\nround-trip latency per job kind (producer → node → producer), HDR histograms:\n\n")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "job\tjobs\terrors\tp50\tp95\tp99\tp99.9\tmax\t")
	for _, k := range names {
		h, t := merged[k], total[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", k, t.Jobs, t.Errors,
			dur(h.ValueAtQuantile(50)), dur(h.ValueAtQuantile(95)), dur(h.ValueAtQuantile(99)), dur(h.ValueAtQuantile(99.9)), dur(h.Max()))
	}
	tw.Flush()
	fmt.Printf("\n%d jobs in %s (%.0f jobs/s over %d producers); bad jobs were refused with a clear error and the node kept serving.\n",
		all, elapsed.Round(time.Millisecond), float64(all)/elapsed.Seconds(), *producers)
	if hs, err := heapStats(region); err == nil {
		// Producers reuse pinned buffers and envelope blocks, so the heap
		// sees few allocations however many jobs run.
		fmt.Printf("shared heap: %d allocations, %d frees; %d blocks still live after the producers left, %d bytes free of %d\n",
			hs.Allocs, hs.Frees, hs.Live, hs.Free+hs.Cached, hs.Size)
	}
	return nil
}

// heapStats reads the fragmentation monitor of the arena in a node's region.
func heapStats(region string) (arena.Stats, error) {
	r, err := shm.Attach(region, shm.Options{})
	if err != nil {
		return arena.Stats{}, err
	}
	defer r.Close()
	a, err := arena.AttachRegion(r)
	if err != nil {
		return arena.Stats{}, err
	}
	return a.Stats(), nil
}

func dur(ns int64) string { return time.Duration(ns).String() }

func cmdDemoProducer(args []string) error {
	fs := flag.NewFlagSet("demo-producer", flag.ContinueOnError)
	region := fs.String("region", "", "region")
	jobs := fs.Int("jobs", 10000, "jobs")
	seed := fs.Uint64("seed", 1, "workload seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := client.Attach(*region, client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	bufs := make([]client.Buffer, len(demoJobs))
	weights := 0
	for i, j := range demoJobs {
		weights += j.weight
		if j.payload > 0 {
			if bufs[i], err = c.Alloc(j.payload); err != nil {
				return err
			}
			for k := range bufs[i].Bytes {
				bufs[i].Bytes[k] = byte(k * i)
			}
		}
	}
	hists := make([]*hdrhistogram.Histogram, len(demoJobs))
	rep := demoReport{Kinds: map[string]*demoKind{}}
	for i, j := range demoJobs {
		hists[i] = bench.NewHistogram()
		rep.Kinds[j.name] = &demoKind{}
	}
	rng := rand.New(rand.NewPCG(*seed, 7))
	for n := 0; n < *jobs; n++ {
		w, i := rng.IntN(weights), 0
		for ; w >= demoJobs[i].weight; i++ {
			w -= demoJobs[i].weight
		}
		j := demoJobs[i]
		job := client.Job{Library: j.lib, Method: j.method, Params: []byte(j.params), Input: bufs[i].Ref}
		t0 := time.Now()
		res, err := c.Call(ctx, job)
		if err != nil {
			return err
		}
		_ = hists[i].RecordValue(int64(time.Since(t0)))
		k := rep.Kinds[j.name]
		k.Jobs++
		if jerr := res.Err(); jerr != nil {
			k.Errors++
			if !j.wantErr {
				return fmt.Errorf("%s: %w", j.name, jerr)
			}
		} else if j.wantErr {
			return fmt.Errorf("%s: accepted, want refused", j.name)
		} else if res.Output.Ref != job.Input {
			return errors.New("echo returned another reference")
		}
	}
	for i, j := range demoJobs {
		rep.Kinds[j.name].Hist = hists[i].Export()
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}
