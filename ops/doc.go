// Package ops is the node's HTTP endpoint for operators: Prometheus metrics,
// liveness and readiness.
//
// # Wiring
//
// Nothing is global: the caller makes a registry, registers what it wants,
// and hands it to the server.
//
//	reg := prometheus.NewRegistry()
//	jobs := ops.NewJobMetrics(registry.Methods())  // also cfg.Observer
//	reg.MustRegister(jobs, ops.NewNodeCollector(node),
//		ops.NewLibraryCollector(image, crypto), ops.NewBuildInfo(version))
//	srv := ops.NewServer(":9464", reg, heartbeatRecent, poolsWarm, log)
//	err := srv.Start()  // bound once it returns; srv.Addr() for ":0"
//	defer srv.Close(ctx)
//
// More collectors (SLOs, breakers, collectors.NewGoCollector) join through
// Server.Register or the registry.
//
// # Endpoints
//
//	GET /metrics  the registry in the Prometheus text format (or OpenMetrics/
//	              protobuf as negotiated); 200. A collector that fails is
//	              logged and left out, the rest is served.
//	GET /healthz  200 "ok" while live() returns nil; 503 "not live: <reason>"
//	              otherwise. Meant for a restart decision: the process serves
//	              and its dispatcher makes progress (a recent heartbeat).
//	GET /readyz   200 "ok" while ready() returns nil; 503 "not ready: <reason>"
//	              otherwise (before the guests are compiled and the pools
//	              warm). Meant for routing work to the node.
//
// Other methods on these paths get 405, other paths 404. A probe logs when
// its answer changes, not per request.
//
// # Metrics
//
// Times are in seconds, sizes in bytes, ratios in [0, 1]. Labels: library
// and method are the registry's names ("" and "" for a job refused before
// its method was known: a bad envelope, an unknown library or method);
// outcome is "ok" or the schema's name of the error kind ("invalidParams",
// "deadlineExceeded", …; "unknown" for a kind newer than this build).
//
// Per job, recorded by JobMetrics.Observe:
//
//	inos_jobs_total{library,method,outcome}            counter
//	inos_job_duration_seconds{library,method,stage}    histogram; stage is
//	    queue (producer's submit → execution starts), exec (the method),
//	    total (submit → result published). A stage the event gives as 0 is
//	    unknown (no submit time, never executed) and is not observed.
//	    Buckets: 100µs 250µs 500µs 1ms 2.5ms … 10s 25s 60s (1–2.5–5 steps).
//	inos_job_fuel_total{library,method}                counter, guest fuel
//	inos_job_input_bytes_total{library,method}         counter
//	inos_job_output_bytes_total{library,method}        counter
//
// Every method shows outcome="ok" and its other series from the start (at
// 0); a failure outcome appears when it first happens. The library=""
// row appears with its first job.
//
// Read at scrape time, by NodeCollector (from a Node: *kernel.Node):
//
//	inos_inbox_depth                  gauge, entries waiting in the inbox
//	inos_heap_efficiency              gauge, requested / (held + exact-fit cached)
//	inos_heap_external_fragmentation  gauge, 1 - largest free block / free
//	inos_heap_live_blocks             gauge, live allocations
//	inos_heap_free_bytes              gauge
//	inos_heap_size_bytes              gauge
//
// by LibraryCollector (from each Library: *sandbox.Library):
//
//	inos_guest_instances{library,state}           gauge; state is busy (out
//	    of the pool, running a job) or idle (warm in the pool): they sum to
//	    the live instances
//	inos_guest_memory_bytes{library}              gauge, idle instances' linear memory
//	inos_guest_instances_created_total{library}   counter
//	inos_guest_instances_discarded_total{library} counter
//	inos_sandbox_bytes_mapped_total{library}      counter, producer bytes mapped into guests
//	inos_sandbox_bytes_copied_total{library}      counter, bytes copied in or out instead
//	inos_sandbox_output_maps_kept_total{library}  counter
//
// and by NewBuildInfo: inos_up (1) and inos_build_info{version,goversion} (1).
// The metric handler adds promhttp_metric_handler_errors_total{cause}.
//
// # What Observe costs
//
// JobMetrics binds everything when it is made: a row per MethodID with an
// atomic counter per outcome and the three stage histograms. Observe indexes
// the row, does four atomic adds and up to three histogram observations
// (a linear scan of 18 bounds and a few atomic adds each): no lock, no map,
// no allocation (TestObserveDoesNotAllocate), about 90 ns (BenchmarkObserve,
// AMD EPYC). It is safe from several goroutines. The counters become
// samples only at scrape time.
package ops
