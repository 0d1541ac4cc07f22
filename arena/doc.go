// Package arena will allocate bulk bytes inside the shared region: a buddy
// system with an exact-fit fast path, a fragmentation monitor and
// defragmentation through an indirection table of handles.
//
// Not implemented yet (the arena issue). Until it lands, each producer
// allocates from its own heap partition with the first-fit allocator in
// package client.
package arena
