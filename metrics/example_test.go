package metrics_test

import (
	"fmt"
	"os"

	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/metrics"
	"github.com/inos-node/node/schema"
)

// A node registers a Recorder as its kernel.Observer; its metrics loop
// takes an Interval now and then for the log and the SLO tracker, and
// `inos stats` gets an encoded Snapshot.
func Example() {
	methods := []kernel.MethodInfo{
		{ID: 0, Library: "crypto", Method: "blake3"},
		{ID: 1, Library: "image", Method: "invert"},
	}
	rec := metrics.NewRecorder(methods)
	var obs kernel.Observer = rec // what kernel.Config.Observer takes

	// The dispatcher reports each answered job.
	for i := range 1000 {
		ev := kernel.JobEvent{Method: 0, QueueNs: 20_000, ExecNs: uint64(100_000 + 100*i), TotalNs: uint64(130_000 + 100*i)}
		if i%100 == 99 {
			ev.Kind = schema.ErrorDeadlineExceeded
		}
		obs.Observe(&ev)
	}
	ev := kernel.JobEvent{Method: kernel.NoMethod, Kind: schema.ErrorUnknownLibrary, ExecNs: 4000}
	obs.Observe(&ev)

	// The metrics loop.
	iv := rec.Interval()
	fmt.Println(len(iv), "methods had jobs in this interval")

	// inos stats.
	wire, _ := metrics.EncodeSnapshot(rec.Snapshot(), metrics.Extra{Node: "example"})
	d, _ := metrics.DecodeSnapshot(wire)
	metrics.WriteSummary(os.Stdout, d.Stats)
	// Output:
	// 2 methods had jobs in this interval
	// METHOD         JOBS  FAILED  ERRORS               STAGE  P50     P95     P99     P99.9   MAX
	// crypto.blake3  1000  10      deadlineExceeded:10  total  180µs   225µs   229µs   230µs   230µs
	// -.-            1     1       unknownLibrary:1     exec   4.09µs  4.09µs  4.09µs  4.09µs  4.09µs
}

// WritePercentiles prints HdrHistogram's classic table, here in ms.
func ExampleWritePercentiles() {
	h := metrics.NewHistogram()
	for i := int64(1); i <= 10; i++ {
		h.RecordValue(i * 1_000_000)
	}
	metrics.WritePercentiles(os.Stdout, h, metrics.UnitMs)
	// Output:
	//        Value     Percentile TotalCount 1/(1-Percentile)
	//
	//        1.000 0.000000000000          1           1.00
	//        1.000 0.100000000000          1           1.11
	//        2.001 0.200000000000          2           1.25
	//        3.000 0.300000000000          3           1.43
	//        4.002 0.400000000000          4           1.67
	//        5.001 0.500000000000          5           2.00
	//        6.001 0.550000000000          6           2.22
	//        6.001 0.600000000000          6           2.50
	//        7.000 0.650000000000          7           2.86
	//        7.000 0.700000000000          7           3.33
	//        8.004 0.750000000000          8           4.00
	//        8.004 0.775000000000          8           4.44
	//        8.004 0.800000000000          8           5.00
	//        9.003 0.825000000000          9           5.71
	//        9.003 0.850000000000          9           6.67
	//        9.003 0.875000000000          9           8.00
	//        9.003 0.887500000000          9           8.89
	//        9.003 0.900000000000          9          10.00
	//       10.002 0.912500000000         10          11.43
	//       10.002 1.000000000000         10
	// #[Mean    =        5.500, StdDeviation   =        2.872]
	// #[Max     =       10.002, Total count    =           10]
	// #[Buckets =           23, SubBuckets     =         2048]
}
