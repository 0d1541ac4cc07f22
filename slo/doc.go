// Package slo checks a node's service-level objectives once per metrics
// interval and watches each method's latency for anomalies.
//
// # The caller's duties
//
//  1. Build a Tracker with New; Close it when the node stops (it stops the
//     webhook sender).
//  2. Once per interval (every 10 s, say), call Evaluate with one
//     MethodInterval per method that ran, counted over that interval only,
//     and the node-wide NodeInterval (nil when not measured). Count
//     MethodInterval.Failed with the breaker's classification
//     (breaker.Classify(kind) == breaker.Failure): client errors and the
//     breaker's own refusals are neither OK nor Failed.
//  3. Read Status, Violations and Webhook from any goroutine (inos stats,
//     metrics).
//
// # Targets
//
// Per method, the defaults being the product's:
//
//   - latency_p95: the interval's p95 is below Config.Latency (100 ms), or
//     below the method's entry in Config.MethodLatency ("library.method").
//   - success_rate: OK/(OK+Failed) is above Config.SuccessRate (99.9 %).
//
// Node-wide:
//
//   - heap_efficiency: above Config.HeapEfficiency (80 %).
//   - zero_copy: no bulk bytes were copied between producers and guests
//     (NodeInterval.BytesCopied == 0), unless Config.AllowCopies.
//
// Small samples: the latency target and anomaly detection skip an interval
// in which a method answered fewer than Config.MinJobs (20) jobs, since the
// p95 of fewer than 20 samples is just their maximum. The success rate
// instead carries a short interval's counts over to the next ones until
// they add up to MinJobs, then judges them together, so that a method
// with a few jobs per interval is still judged, over a longer span. A
// skipped check keeps its state (traffic stopping is not a recovery);
// Status marks its value "(stale)".
//
// # Anomalies
//
// Per method, an exponentially weighted moving average of the interval
// p95 (weight Anomaly.Alpha, 0.2) and of its absolute deviation from that
// average form a baseline. After Anomaly.Warmup judged intervals (5;
// during the warm-up the averages are plain means), an interval whose p95
// exceeds baseline + max(K × deviation, Floor) (K 4, Floor 1 ms, which
// ignores jitter at microsecond scale) is above the threshold, and
// Anomaly.Confirm (2) such intervals in a row are an anomaly. Why two: the
// deviation average is itself estimated from a handful of intervals, so
// with Confirm 1 steady Gaussian noise of 10 % crossed the threshold in
// 0.45 % of intervals (a false alarm every 40 minutes per method at 10 s)
// and exponential-tailed noise in 3.6 %; with 2 in a row, 0 and 0.08 % of
// 50 000 simulated intervals, while a lasting 2× or 5× jump is still
// caught, one interval later. Confirm 1 reports single intervals.
//
// The baseline learns from each judged interval, one above the threshold
// clamped to it: a spike barely moves it, while a lasting shift becomes
// the new normal within some ten intervals (the anomaly then ends with a
// recovery; the latency target still judges the level itself). Only
// upward deviations are anomalies.
//
// # Outputs
//
// A check reports on change only: ok → violated emits a violation,
// violated → ok a recovery, and nothing is emitted while a state lasts
// (Status shows it, and Count.Intervals counts the violated intervals).
// An anomaly is the check "anomaly" and reports the same way. Each report
//
//   - is logged through Config.Logger: "slo violated" or "latency anomaly"
//     at warn, "slo recovered" or "latency anomaly over" at info, with the
//     attributes slo, library, method, target, value, interval and
//     detail (the Event's sentence);
//   - counts in Violations (violations only);
//   - is returned by Evaluate as an Event;
//   - if Config.Webhook is set, is POSTed there as the JSON of its Event
//     (recoveries too, so that a receiver can resolve its alert).
//
// Webhook posts go through a bounded queue (Config.WebhookQueue) served by
// one goroutine, each with a timeout (Config.WebhookTimeout): Evaluate
// never waits on the network. An event that finds the queue full is
// dropped and counted (WebhookStats.Dropped), as are those still queued at
// Close.
//
// # Concurrency
//
// All methods are safe for concurrent use. Evaluate holds the Tracker's
// lock while it judges, and logs and enqueues after releasing it.
// Nothing is global: the clock, logger and HTTP client come from Config.
package slo
