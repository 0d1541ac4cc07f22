package slo_test

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/inos-node/node/slo"
)

func Example() {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "detail" {
				return slog.Attr{} // keep the example's output short
			}
			return a
		},
	}))
	tr, err := slo.New(slo.Config{
		MethodLatency: map[string]time.Duration{"img.resize": 250 * time.Millisecond},
		Logger:        logger,
		Clock:         func() time.Time { return now },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close()

	// The node's metrics loop, every 10 s: this interval's figures.
	interval := func(resizeP95 time.Duration, failed uint64) {
		now = now.Add(10 * time.Second)
		tr.Evaluate([]slo.MethodInterval{
			{Library: "img", Method: "resize", Jobs: 500, OK: 500 - failed, Failed: failed,
				P50: resizeP95 / 3, P95: resizeP95, P99: resizeP95 * 2},
		}, &slo.NodeInterval{HeapEfficiency: 0.93})
	}
	interval(120*time.Millisecond, 0) // slow, but under its own 250 ms target
	interval(300*time.Millisecond, 2)
	interval(310*time.Millisecond, 0) // still violated: not reported again
	interval(110*time.Millisecond, 0)

	for _, l := range tr.Status() {
		fmt.Printf("%-20s %-18s %-28s ok=%v\n", l.Name, l.Target, l.Value, l.OK)
	}
	for _, c := range tr.Violations() {
		fmt.Printf("%s %s.%s: %d violations, %d intervals\n", c.SLO, c.Library, c.Method, c.N, c.Intervals)
	}
	// Output:
	// level=WARN msg="slo violated" slo=latency_p95 library=img method=resize target="< 250ms" value=300ms interval=10s
	// level=WARN msg="slo violated" slo=success_rate library=img method=resize target="> 99.9%" value="99.600% (2 of 500 failed)" interval=10s
	// level=INFO msg="slo recovered" slo=success_rate library=img method=resize target="> 99.9%" value="100.000% (0 of 500 failed)" interval=10s
	// level=INFO msg="slo recovered" slo=latency_p95 library=img method=resize target="< 250ms" value=110ms interval=10s
	// heap efficiency      > 80%              93.0%                        ok=true
	// zero-copy            0 B copied         0 B copied                   ok=true
	// img.resize p95       < 250ms            110ms                        ok=true
	// img.resize success   > 99.9%            100.000% (0 of 500 failed)   ok=true
	// img.resize anomaly   warming up (4/5)   n/a                          ok=true
	// latency_p95 img.resize: 1 violations, 2 intervals
	// success_rate img.resize: 1 violations, 1 intervals
}
