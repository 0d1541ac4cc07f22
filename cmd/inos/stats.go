package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/inos-node/node/client"
	"github.com/inos-node/node/config"
	"github.com/inos-node/node/metrics"
)

// cmdStats attaches to a running node as a producer, asks its library
// "node" for its statistics, and prints HdrHistogram's percentile table
// per library.method, the SLO status and the circuit breakers.
func cmdStats(args []string) error {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	region := fs.String("region", "", "region of the node (may also be the first argument)")
	only := fs.String("method", "", "only this library.method (default: every method that ran jobs)")
	stage := fs.String("stage", "", "queue, exec or total (default: total where producers gave a submit time, else exec)")
	summary := fs.Bool("summary", false, "the summary and SLO status only, no percentile tables")
	plot := fs.String("plot", "", "also write a latency-by-percentile chart (SVG) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *region == "" && fs.NArg() == 1 {
		*region = fs.Arg(0)
	}
	if *region == "" {
		return errors.New("--region is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Attach(*region, client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := callRetrying(ctx, c, client.Job{Library: "node", Method: "stats", Deadline: time.Now().Add(10 * time.Second)}, 1<<20)
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("node.stats: %w", err)
	}
	d, err := metrics.DecodeSnapshot(res.Output.Bytes)
	if err != nil {
		return err
	}
	stats := d.Stats
	if *only != "" {
		stats = stats[:0:0]
		for _, s := range d.Stats {
			if s.Name() == *only {
				stats = append(stats, s)
			}
		}
		if len(stats) == 0 {
			return fmt.Errorf("the node ran no job of %q", *only)
		}
	}
	sort.Slice(stats, func(i, j int) bool { return stats[i].Name() < stats[j].Name() })
	w := os.Stdout
	fmt.Fprintf(w, "node %s, up %s, statistics taken %s\n\n", d.Extra.Node, d.Extra.Uptime.Round(time.Second), d.Extra.Taken.Format(time.RFC3339))
	if err := metrics.WriteSummary(w, stats); err != nil {
		return err
	}
	pick := func(s *metrics.MethodStats) (*hdrhistogram.Histogram, string) {
		if *stage != "" {
			for st := metrics.Stage(0); st < metrics.NumStages; st++ {
				if st.String() == *stage && s.Hist[st] != nil {
					return s.Hist[st], st.String()
				}
			}
			return nil, *stage
		}
		h, st := s.Latency()
		return h, st.String()
	}
	var series []metrics.Series
	for i := range stats {
		s := &stats[i]
		h, st := pick(s)
		if h == nil {
			continue
		}
		series = append(series, metrics.Series{Name: s.Name() + " (" + st + ")", Hist: h})
		if *summary {
			continue
		}
		fmt.Fprintf(w, "\n== %s, %s latency, %d jobs (ms) ==\n", s.Name(), st, h.TotalCount())
		if err := metrics.WritePercentiles(w, h, metrics.UnitMs); err != nil {
			return err
		}
	}
	if len(d.Extra.SLO) > 0 {
		fmt.Fprintf(w, "\nSLOs (defaults: %s; see inos config):\n", sloDefaults())
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  objective\ttarget\tvalue\tstatus")
		for _, l := range d.Extra.SLO {
			status := "ok"
			switch {
			case !l.OK:
				status = "VIOLATED"
			case l.Value == "n/a" || strings.HasPrefix(l.Target, "warming up"):
				status = "not judged yet"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", l.Name, l.Target, l.Value, status)
		}
		tw.Flush()
	}
	if len(d.Extra.Breakers) > 0 {
		names := make([]string, 0, len(d.Extra.Breakers))
		for n := range d.Extra.Breakers {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(w, "\ncircuit breakers:\n")
		for _, n := range names {
			fmt.Fprintf(w, "  %-10s %s\n", n, d.Extra.Breakers[n])
		}
	}
	if *plot != "" {
		f, err := os.Create(*plot)
		if err != nil {
			return err
		}
		if err := metrics.WritePlot(f, "svg", series); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(w, "\nchart: %s (%d series)\n", *plot, len(series))
	}
	return nil
}

func sloDefaults() string {
	s := config.Default().SLO
	return strings.Join([]string{
		fmt.Sprintf("p95 < %s", s.LatencyP95.D()), fmt.Sprintf("success > %.1f%%", s.SuccessRate*100),
		fmt.Sprintf("heap efficiency > %.0f%%", s.MemoryEfficiency*100), "zero copy",
	}, ", ")
}

// cmdConfig prints the config file with every setting at its default and
// its documentation.
func cmdConfig(args []string) error {
	if len(args) > 0 {
		return errors.New("usage: inos config > inos.toml")
	}
	b, err := config.Write(config.Default())
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(b)
	return err
}
