# The job envelope between producers and the INOS node.
#
# A producer writes a JobRequest into shared memory and publishes its offset in
# the inbox ring. The node answers with a JobResult written into the same
# envelope buffer (the producer reserved it) and published in the producer's
# outbox ring. Bulk bytes never travel inside these messages: input and output
# are references (offset + length) into the shared region.
#
# Messages use the standard (unpacked) stream framing: a segment table, then
# the segments.

@0xd2f1c86a9b3e4f17;

using Go = import "/go.capnp";
$Go.package("schema");
$Go.import("github.com/inos-node/node/schema");

# A byte range of the shared region, relative to the region's start, and
# the arena handle of the block that holds it. The node checks the range
# against the block the handle names: the block must belong to the
# producer, be pinned (so it cannot move during the job), and contain the
# range. A zero handle is allowed only for an empty range.
struct BufferRef {
  offset @0 :UInt64;
  length @1 :UInt64;
  handle @2 :UInt64;
}

# Per-job limits a producer may ask for. Zero means "the library's default";
# the node never grants more than the library's own limit.
struct Limits {
  maxFuel @0 :UInt64;
  timeoutNs @1 :UInt64;
  maxOutputBytes @2 :UInt64;
  maxMemoryPages @3 :UInt32;
}

struct JobRequest {
  jobId @0 :UInt64;
  library @1 :Text;
  method @2 :Text;
  # JSON object text, at most 1 MiB.
  params @3 :Text;
  input @4 :BufferRef;
  # Space the producer reserved for the job's output (may be empty).
  output @5 :BufferRef;
  limits @6 :Limits;
  # Absolute deadline, Unix nanoseconds; 0 means none.
  deadlineUnixNs @7 :Int64;
  # When the producer published the job (CLOCK_REALTIME, Unix nanoseconds).
  submitUnixNs @8 :Int64;
}

enum Status {
  ok @0;
  error @1;
}

enum ErrorKind {
  none @0;
  invalidEnvelope @1;   # not a well-formed JobRequest, or over a traversal/nesting limit
  invalidParams @2;     # params missing, not JSON, too large, or a forbidden key
  unknownLibrary @3;
  unknownMethod @4;
  invalidReference @5;  # input/output outside the producer's memory
  inputTooLarge @6;
  outputTooLarge @7;
  deadlineExceeded @8;
  libraryFailed @9;     # the library ran and reported an error
  internal @10;
  resourceExhausted @11;
  invalidInput @12;     # the input is not what the method takes: corrupt, truncated, a decompression bomb
  libraryUnavailable @13; # the library's circuit breaker is open (it failed too often lately): retry later
}

struct JobResult {
  jobId @0 :UInt64;
  status @1 :Status;
  output @2 :BufferRef;
  errorKind @3 :ErrorKind;
  errorMessage @4 :Text;
  # Time from submitUnixNs to the start of execution.
  queueNs @5 :UInt64;
  # Time spent executing the library method.
  execNs @6 :UInt64;
  # Fuel the job used (0 for host-side libraries).
  fuelUsed @7 :UInt64;
  # When errorKind is outputTooLarge: the bytes the output needs, if the
  # library said (0 if it did not), so the producer can retry with as much.
  outputNeeded @8 :UInt64;
}
