// Package cryptolib is the method table of the "crypto" library: hashes
// (SHA-256, SHA-512, BLAKE3), Ed25519 keys and signatures, and AES-GCM
// encryption. The guest (../crypto) serves Methods() over the guest ABI
// (../ABI.md); the node's native path calls the same Methods() directly, so
// the code measured natively is the code that runs in the sandbox.
//
// Every method reads the job's input and writes its output as raw bytes.
// Keys, nonces, signatures and associated data travel in the params as hex
// strings (either case). Params are strict: an unknown field, a value of the
// wrong JSON type, bad hex or a wrong length fails the job with
// invalidParams, and the message names the field and what was expected,
// e.g. "key: want 16, 24 or 32 bytes of hex, got 15 bytes".
//
// # Methods
//
//	method              params                                   input        output
//	sha256              {}                                       message      32-byte digest
//	sha512              {}                                       message      64-byte digest
//	blake3              {"length"?: n, "key"?: hex(32)}          message      n-byte digest (default 32)
//	ed25519_public_key  {"private_key": hex(32 or 64)}           ignored      32-byte public key
//	ed25519_sign        {"private_key": hex(32 or 64)}           message      64-byte signature
//	ed25519_verify      {"public_key": hex(32),                  message      {"valid":true} or {"valid":false}
//	                     "signature": hex(64)}
//	aes_encrypt         {"key": hex(16, 24 or 32),               plaintext    nonce(12) ‖ ciphertext ‖ tag(16)
//	                     "nonce"?: hex(12), "aad"?: hex}
//	aes_decrypt         {"key": hex(16, 24 or 32), "aad"?: hex}  sealed       plaintext
//
// ("?" marks an optional field; absent and null mean the same. hex(n) is a
// string of 2n hex digits; "sealed" is aes_encrypt's output, nonce(12) ‖
// ciphertext ‖ tag(16).)
//
// blake3: "length" is the number of output bytes, 1 to 65536 (BLAKE3 is an
// extendable-output function; the first 32 bytes of a longer output are the
// default-length digest). "key" selects BLAKE3's keyed mode (a MAC or PRF
// keyed with 32 bytes); without it the method is the plain hash.
//
// ed25519: a private key is either the 32-byte seed of RFC 8032 or the
// 64-byte form of crypto/ed25519 (seed ‖ public key). A 64-byte key whose
// second half is not the public key of its seed is refused: signing with a
// mismatched public key yields signatures that do not verify, and two
// signatures of one message under one seed with different public keys
// reveal the private scalar. Signing is deterministic (RFC 8032): the same
// key and message give the same signature. ed25519_verify reports a bad
// signature as a result ({"valid":false}), not as an error; only malformed
// params are errors. Verification is RFC 8032's cofactorless check as
// crypto/ed25519 implements it (non-canonical encodings are rejected).
//
// aes_encrypt and aes_decrypt are AES-GCM (NIST SP 800-38D) with a 96-bit
// nonce and a 128-bit tag; the key size picks AES-128, AES-192 or AES-256.
// The product names AES-128 and AES-256; AES-192 keys are accepted too,
// because they are standard GCM keys and refusing them would protect
// nothing. "aad" is additional data that is authenticated but not
// encrypted: decryption must be given the same aad.
//
// # Nonces
//
// A GCM nonce must never repeat under one key: two messages sealed with
// the same key and nonce reveal the XOR of their plaintexts and let anyone
// forge tags. Without a "nonce" param, aes_encrypt draws 12 bytes from
// sdk.Entropy (the host's inos.random_get in the guest, crypto/rand
// natively). Random 96-bit nonces are safe for up to 2^32 messages under
// one key (NIST SP 800-38D §8.3); past that, change keys. A caller that
// supplies "nonce" takes on the duty of never repeating it under the key
// (a counter kept by the caller is the usual way). The nonce is the first
// 12 bytes of the output and aes_decrypt reads it back from there.
//
// The guest's crypto/rand is WASI random_get, which the node keeps
// deterministic (so that fuel does not depend on random seeds), so nonces
// come from sdk.Entropy instead: the node must serve this library with a
// random source (sandbox.LibraryConfig.Random = crypto/rand.Reader, and
// "inos.random_get" among its allowed imports); without one, aes_encrypt
// without a nonce fails rather than draw a predictable nonce.
//
// # Errors
//
//	invalidParams   a field unknown, of the wrong type, bad hex, the wrong length or out of range
//	invalidInput    aes_decrypt: input shorter than 28 bytes, or authentication failed
//	                ("message authentication failed: wrong key, wrong aad, or the data was altered")
//	outputTooLarge  the output buffer is smaller than the result; the output-length
//	                slot holds the size needed. Every size follows from the params and
//	                the input length, except ed25519_verify's (14 or 15 bytes)
//
// # Input that changes under the method
//
// The input is the producer's pages and may change during the call
// (../ABI.md). Methods read it in place, without a private copy: a producer
// that rewrites its input while Ed25519 hashes it twice, or while GCM
// authenticates and then decrypts it, learns at most what the key it sent
// in the params already gives it. That argument holds because every key
// comes from the caller; a method that used a key the caller does not hold
// would have to copy its input first.
//
// # Side channels
//
// Ed25519 signing (crypto/ed25519) and keyed BLAKE3 run in constant time
// everywhere. AES-GCM does not in the guest: WebAssembly has no AES instructions, so
// crypto/aes runs its generic table-based code, which Go documents as not
// constant-time (natively, on CPUs with AES instructions such as AES-NI,
// AES and GHASH are). A process sharing the node's CPU caches could in
// principle learn key bits from the timing of the guest's AES.
//
// The package has no state: Methods builds a fresh table on each call, and
// nothing of one job is kept for the next.
package cryptolib
