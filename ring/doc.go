// Package ring implements the bounded lock-free rings that carry job
// references through shared memory: many producers (in any number of
// processes) push, one consumer pops. A slot holds an offset, a length, two
// small words and a tag, never a pointer.
//
// # Layout
//
//	off   size       field
//	  0      8       magic "INOSRING" (immutable after Init)
//	  8      8       capacity, a power of two (immutable)
//	128      8       tail: next position to claim (producers, CAS)
//	256      8       head: next position to pop (consumer only writes)
//	384      8       data epoch: bumped after each publish; the consumer sleeps on it
//	512      8       space epoch: bumped after a pop when producers wait for room
//	640  cap*32      slots
//
// Hot words sit 128 bytes apart so that producers and the consumer never
// share a cache line (or an adjacent-line prefetch pair).
//
// A slot is 32 bytes: a state word, then Off (8), Len (4), Aux (4), Tag (8).
// The state word packs the slot's position (48 bits), the owner that claimed
// it (14 bits) and a state (2 bits):
//
//	free      pos = p: empty, ready to be claimed for position p
//	claimed   pos = p, owner = o: producer o is writing the slot
//	published pos = p, owner = o: the entry is complete
//	abandoned pos = p, owner = o: o died while claimed; the consumer skips it
//
// # Protocol and happens-before edges
//
// A producer reads tail t and the word of slot t%cap. If it is free for t,
// the producer claims it with one CAS that also records its owner id, then
// advances tail with a CAS (anyone who sees a claimed slot at tail helps
// advance it, so a producer that dies after its claim cannot stall others).
// It writes the payload with plain stores and publishes with an atomic store
// of the word (published). Atomic store → atomic load of the word by the
// consumer is the only edge the payload needs: Go's atomics are sequentially
// consistent, and on amd64 the store is an XCHG (a full fence).
//
// The consumer, the only writer of head, reads the word at head: published
// means the payload is complete; it copies the payload out, then stores the
// word as free for position head+cap, which hands the slot to the next lap's
// producers. If the word at tail still carries position t-cap the ring is
// full: the producer gets ErrFull or waits on the space epoch; nothing is
// ever overwritten.
//
// # Dead producers
//
// Because a claim names its owner, a slot whose producer was SIGKILLed between
// claim and publish is recognisable: once the owner's process is known to be
// dead, Abandon CASes every slot it holds claimed to abandoned, and the
// consumer steps over them. A dead process cannot race that CAS.
//
// Invariants:
//   - head <= tail <= head + cap (as positions; tail may lag one claim).
//   - slot i's position ≡ i (mod cap), and it only ever grows by cap.
//   - only the consumer writes head and frees slots; only a claimer (or
//     Abandon, for a dead claimer) writes a claimed slot.
package ring
