// Package kernel is the INOS node's supervisor: it owns the shared region,
// takes job envelopes from the inbox ring, validates them, runs them on a
// library and answers in each producer's outbox ring.
//
// # The dispatcher
//
// One goroutine drives the dispatcher. Each turn it waits on the inbox's
// epoch (spinning for Config.Wait.Spin, then parking on the futex), pops up
// to Config.Batch entries, handles each, then wakes each producer that got
// a result once. Between turns, at least every Config.Housekeeping, it
// records its heartbeat and reclaims the slots of producers that died or
// left. Housekeeping runs on the same goroutine, so a producer's memory is
// never reclaimed while one of its jobs runs.
//
// # One job
//
// An inbox entry carries Off/Len of the envelope (a Cap'n Proto JobRequest
// in the producer's heap partition), Tag = job id, Aux = the producer's
// registration generation, and the owner (1 + producer slot). The
// envelope's buffer is at least max(Len, ResultBufferMin) bytes: the node
// writes the JobResult over it once the request has been read.
//
// Before trusting an entry the dispatcher checks, in order: the owner is a
// registered producer of that generation (else the entry is a dead
// producer's and is dropped); the envelope lies inside the producer's
// partition and is at most Config.MaxEnvelopeBytes; then it copies the
// envelope out of shared memory (a producer may change shared bytes while
// they are checked), walks every pointer of the copy under Cap'n Proto
// traversal and depth limits (those of fields the node does not know too),
// and decodes it; the job id matches the tag; params are at most 1 MiB of a
// well-formed JSON object without "__proto__" or "constructor" keys; input
// and output references lie inside the partition; the library and method
// exist; the deadline has not passed. Any failure becomes a JobResult with
// status error and an ErrorKind; the node keeps serving. A method that
// panics fails its own job (ErrorInternal), not the node.
//
// A producer whose process is alive but whose heartbeat is older than
// Config.StaleHeartbeat (stopped, or wedged) is logged once and counted in
// Stats.Silent; its slot and memory stay its own until its process is gone.
//
// The outbox entry carries Off/Len of the JobResult, Tag = job id and Aux =
// the ErrorKind. When the envelope could not be located at all, Len is 0
// and Aux alone tells the producer what went wrong.
package kernel
