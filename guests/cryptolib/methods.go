package cryptolib

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/inos-node/node/guests/sdk"
)

// Methods returns the crypto library's method table (see the package doc
// for each method's params, input and output). Each call builds a new
// table; it holds no state.
func Methods() sdk.Methods {
	return sdk.Methods{
		"sha256":             sdk.Typed(sha256Sum),
		"sha512":             sdk.Typed(sha512Sum),
		"blake3":             sdk.Typed(blake3Sum),
		"ed25519_public_key": sdk.Typed(ed25519PublicKey),
		"ed25519_sign":       sdk.Typed(ed25519Sign),
		"ed25519_verify":     sdk.Typed(ed25519Verify),
		"aes_encrypt":        sdk.Typed(aesEncrypt),
		"aes_decrypt":        sdk.Typed(aesDecrypt),
	}
}

// noParams is the params of a method that takes none: sdk.Typed refuses
// any field.
type noParams struct{}

// hexParam decodes the hex string s of the param named field and checks
// that it decodes to one of sizes bytes (any length if sizes is empty).
// Errors are *sdk.ParamsError naming the field and what it wants.
func hexParam(field, s string, sizes ...int) ([]byte, error) {
	want := describeSizes(sizes)
	if s == "" && len(sizes) > 0 {
		return nil, &sdk.ParamsError{Msg: fmt.Sprintf("%s: missing, want %s of hex", field, want)}
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, &sdk.ParamsError{Msg: fmt.Sprintf("%s: want %s of hex, got invalid hex (%s)",
			field, want, strings.TrimPrefix(err.Error(), "encoding/hex: "))}
	}
	if len(sizes) == 0 {
		return b, nil
	}
	for _, n := range sizes {
		if len(b) == n {
			return b, nil
		}
	}
	return nil, &sdk.ParamsError{Msg: fmt.Sprintf("%s: want %s of hex, got %d bytes", field, want, len(b))}
}

// describeSizes says "32 bytes", "32 or 64 bytes", "16, 24 or 32 bytes".
func describeSizes(sizes []int) string {
	switch len(sizes) {
	case 0:
		return "any number of bytes"
	case 1:
		return fmt.Sprintf("%d bytes", sizes[0])
	}
	var b strings.Builder
	for i, n := range sizes {
		switch {
		case i == len(sizes)-1:
			b.WriteString(" or ")
		case i > 0:
			b.WriteString(", ")
		}
		fmt.Fprint(&b, n)
	}
	b.WriteString(" bytes")
	return b.String()
}
