// Package wal will hold the write-ahead log that makes multi-step
// workflows transactional: length + CRC32C framing, preallocated segments,
// group commit, torn-tail truncation.
//
// Not implemented yet (a later issue).
package wal
