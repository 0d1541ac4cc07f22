// Package guests holds the library guests, written in Go for GOOS=wasip1
// GOARCH=wasm, the SDK they are written with (guests/sdk), and the guest ABI
// they implement (ABI.md), which any language compiling to WASI can
// implement too.
//
// Built guests are committed under guests/wasm and embedded from there, so
// that `go build ./...` and `go install` work on a fresh clone without a
// wasm toolchain step; `make test` rebuilds them from source with the Go
// toolchain named in guests/wasm/TOOLCHAIN and fails if any byte differs.
package guests
