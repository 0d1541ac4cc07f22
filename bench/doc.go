// Package bench holds the node's benchmark scenarios. Every scenario records
// latencies in HDR histograms (1 ns to 1 h, 3 significant digits), runs its
// baselines in the same run, and reports rows that print as a table for
// people and as one JSON object per line for machines.
//
// Latency in open-loop mode is measured from each request's intended send
// time, not its actual one, so a stall is charged to every request it
// delayed (no coordinated omission).
package bench
