// Package schema is the wire contract between producers and the INOS node:
// the JobRequest and JobResult messages of job.capnp, a hand-written codec
// for them, and the capnp-go code generated from the schema (job.capnp.go),
// which is the reference the codec is tested against and the fallback it
// hands unusual messages to.
//
// The generated code costs about 0.5-1 µs and 3-4 allocations per encode or
// decode; the round trip budget is under 1 µs. AppendRequest, AppendResult,
// DecodeRequest and DecodeResult produce and consume the same bytes with no
// allocation, in tens of nanoseconds. Any Cap'n Proto implementation can
// still read what they write and write what they read.
//
// # Framing
//
// A message is one unpacked Cap'n Proto message in the standard stream
// framing, all integers little-endian:
//
//	u32 segment count - 1
//	u32 size of each segment, in 8-byte words
//	u32 padding to a word, when the count is even
//	the segments, back to back
//
// The codec writes a single segment, so its messages start with the eight
// bytes 00 00 00 00 <u32 segment words>. The decoder accepts any legal
// framing up to 512 segments (capnp's own reader limit), but the message
// must end exactly where the segment table says: the byte length the ring
// carries and the segment table must agree.
//
// # Layout
//
// What AppendRequest writes (word offsets within the segment; a pointer's
// target is where the diagram shows it):
//
//	word  0       root pointer: struct, 3 data words, 6 pointers
//	word  1       jobId           u64 ┐
//	word  2       deadlineUnixNs  i64 │ data section
//	word  3       submitUnixNs    i64 ┘
//	word  4       library   → Text    ┐
//	word  5       method    → Text    │
//	word  6       params    → Text    │ pointer section
//	word  7       input     → BufferRef
//	word  8       output    → BufferRef
//	word  9       limits    → Limits  ┘
//	word 10...    library bytes, NUL, zero padding to a word; then method; then params
//	              (an empty text is a null pointer and takes no space)
//	+2 words      input:  offset u64, length u64
//	+2 words      output: offset u64, length u64
//	+4 words      limits: maxFuel u64, timeoutNs u64, maxOutputBytes u64,
//	                      maxMemoryPages u32, 4 bytes padding
//
// What AppendResult writes:
//
//	word  0       root pointer: struct, 6 data words, 2 pointers
//	word  1       jobId u64
//	word  2       status u16 (bytes 0-1), errorKind u16 (bytes 2-3), 4 bytes padding
//	word  3       queueNs u64
//	word  4       execNs u64
//	word  5       fuelUsed u64
//	word  6       outputNeeded u64
//	word  7       output       → BufferRef
//	word  8       errorMessage → Text
//	words 9-11    output: offset u64, length u64, handle u64
//	word 12...    errorMessage bytes, NUL, padding (null pointer when empty)
//
// RequestSize and ResultSize give the exact byte counts (168 and 104 bytes
// with the frame header,
// plus the texts, each rounded up to words including its NUL).
//
// The decoder does not depend on this layout: it follows pointers, so
// objects may come in any order, and structs may be smaller (an older
// writer: missing fields read as zero) or larger (a newer writer: extra
// fields are ignored) than this schema's.
//
// # Results travel in the request's buffer
//
// A producer reserves one envelope buffer per job in shared memory and writes
// the JobRequest there. The node answers by writing the JobResult into that
// same buffer, overwriting the request, and publishing it on the producer's
// outbox ring. The buffer must therefore hold the larger of the request and
// the result; a result is 104 bytes plus its error message, which the node
// shortens to fit (AppendResult writes it last for that reason), so any
// buffer holding a request holds a result with a 63-byte message at least.
// Bulk input and output
// never travel in these messages: they are Refs (offset, length) into the
// shared region.
//
// # Aliasing
//
// Decoded texts (Request.Library, Method, Params; Result.ErrorMessage) are
// slices of the message, not copies: that is what makes decoding free of
// allocations. Their capacity equals their length, so appending to one
// copies instead of overwriting the message.
//
// The node never decodes in place in shared memory: a producer could change
// the bytes between validation and use. It first copies the message into
// private memory, then decodes that copy, and the decoded Request is valid
// as long as the copy is. Producers decoding results may decode in place
// only while they own the buffer.
//
// # Limits
//
// DecodeLimits bounds the work a hostile message can cause: its size
// (default 1 MiB + 64 KiB, room for 1 MiB of params), the traversal limit
// (default 4 x that, in words, counted as capnp-go counts), and the pointer
// depth (default 8; a JobRequest needs 2). Over a limit the error matches
// ErrLimit; anything malformed matches ErrMalformed. Both come as a
// *DecodeError saying what is wrong and where.
//
// # The fast path and the fallback
//
// Single-segment messages whose pointers are all near pointers, which is
// what this codec, capnp-go and the capnp tool write for messages under a
// few KiB, are decoded by a hand-written reader that performs capnp-go's
// checks and traversal accounting exactly. Anything else that is legal
// Cap'n Proto (several segments, far and double-far pointers, such as the
// capnp tool writes for requests over 8 KiB) is decoded by the generated
// capnp-go reader with Message.TraverseLimit and Message.DepthLimit set from
// the limits, plus the same strictness checks. Both give the same results
// and accept the same messages; the tests and the fuzzer hold them to it.
//
// # Stricter than capnp-go
//
// The decoder refuses some messages that capnp-go's generated getters read
// without complaint, because they can only come from a broken or hostile
// producer:
//
//   - bytes after the end the segment table gives (capnp-go ignores them);
//   - more than 512 segments (capnp-go's Unmarshal allows any number);
//   - a message over DecodeLimits.MaxMessageBytes;
//   - a null root pointer, or a root pointer that is not a struct (capnp-go
//     reads every field as zero);
//   - a text field whose pointer is not a byte list or whose last byte is
//     not NUL (capnp-go returns "");
//   - a struct field (input, output, limits) whose pointer is a list
//     (capnp-go reads it as a zero struct);
//   - any capability pointer (the schema has no interfaces).
//
// Everything capnp-go refuses with the same limits, the decoder refuses too.
// fuzz.FuzzDecodeRequest checks both directions against this list.
//
// # Regenerating
//
// job.capnp.go is generated by Debian's capnp 0.9.2 and capnpc-go at the
// capnproto.org/go/capnp/v3 version in go.mod; run scripts/generate.sh
// (make generate), and scripts/generate.sh --check in CI.
package schema
