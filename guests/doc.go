// Package guests will hold the library guests (image, crypto, ...) built
// for GOOS=wasip1 GOARCH=wasm, and the small SDK they are written with.
//
// Not implemented yet (the sandbox and libraries issues).
package guests
