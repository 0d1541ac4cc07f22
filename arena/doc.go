// Package arena allocates bulk bytes inside the shared region: the inputs
// and outputs that producers, the node and guests read where they lie.
// Every process that maps the region can allocate and free at the same time;
// metadata holds offsets and indices only, never pointers.
//
// # Design
//
// The arena is a binary buddy system over 64-byte granules (a cache line;
// blocks of 2^k granules start on a 2^k-granule boundary, which keeps large
// buffers page- and DMA-aligned). Plain power-of-two rounding wastes a
// quarter of the bytes on random sizes, so an allocation of m granules takes
// the smallest free block of 2^k >= m granules and at once gives the unused
// tail back as the maximal aligned blocks that tile it: it holds exactly m
// granules, and waste is under one granule per allocation. Freeing splits
// the allocation's range into maximal aligned blocks and merges each with
// its buddy while the buddy is free, so the tail and the allocation coalesce
// again.
//
// When no single free block holds an allocation, it may still fit in a run
// of adjacent free blocks (trimmed tails and freed neighbours lie side by
// side without being buddies): Alloc then takes the lowest such run it
// finds, starting from the free blocks of the two levels below the one it
// needed (any fitting run contains one), within a bounded search.
//
// Free blocks are tracked by one hierarchical bitmap per level (a bit per
// block, summary words above): finding the lowest free block of a level
// reads a handful of words, and no link ever lives inside a free block,
// where a producer's stray write could corrupt it.
//
// Exact-fit lists keep recently freed blocks of 1..64 granules (up to
// 4 KiB: envelopes, small payloads) by exact size, so the frequent sizes are
// served without splitting and merging. They hold at most 1/32 of the arena
// and count as cached, not free.
//
// Callers hold handles (table index + generation), not offsets, so that the
// arena may move blocks: Compact moves unpinned blocks, highest address
// first, into the lowest free block (or run) that fits, and the space
// behind them coalesces. A block being moved is marked in its handle entry;
// Pin, Free and Lookup wait for the mark to clear, so no reader ever sees a
// half-moved block, and a pinned block never moves. The copy itself runs
// outside the lock (its destination is already taken, its source still
// held), so a large move does not stall other processes' allocations. Only
// the node compacts: a mover that died mid-copy would leave its block
// marked, and the node's death ends the region anyway.
//
// External fragmentation is 1 - (largest free block) / (the largest power
// of two not above the free bytes): free space packed at the top of the
// arena reads 0, and 0.30 (Config.CompactAt) is when the node compacts. Handles with an old generation are stale; a
// second Free is a double free; a handle of another owner is foreign: each
// is a typed error, never corruption.
//
// # Concurrency and crashes
//
// One cross-process lock word (the holder's pid) guards the free
// structures; Pin and Unpin are lock-free CAS loops on the handle entry.
// The handle table is the arena's journal: Alloc turns its entry live as
// its last step, Free turns it free as its first, and a move keeps the old
// copy until the entry points at the new one. So whatever step a process
// dies at while holding the lock, the live entries describe exactly the
// blocks in use. A waiter that finds the holder's process gone takes the
// lock over and rebuilds the bitmaps, counts and exact-fit lists from the
// table (Stats.Recoveries counts it).
//
// Invariants (checked after every operation by the model tests):
//   - every granule is exactly one of: in one free block, on one exact-fit
//     list, or held by one live handle entry;
//   - no two free buddies of the same level are both free;
//   - the per-level counts and the counters equal what the bitmaps and the
//     table hold;
//   - a live entry holds at least ceil(requested/64) granules (exactly that
//     unless the arena is Plain, where it holds the power of two).
package arena
