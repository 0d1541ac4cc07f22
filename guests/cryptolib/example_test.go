package cryptolib_test

import (
	"fmt"
	"testing"

	"github.com/inos-node/node/guests/cryptolib"
	"github.com/inos-node/node/guests/sdk"
)

// A job as the guest's inos_call sees it: the method table dispatches it
// and reports the ABI status and output length. The output buffer is the
// producer's; the digest is written at its start.
func ExampleMethods() {
	c := &sdk.Call{
		Method: "sha256",
		Params: []byte(`{}`),
		Input:  []byte("abc"),
		Output: make([]byte, 64),
	}
	status, n, msg := cryptolib.Methods().Dispatch(c) // msg is "" on success
	fmt.Println(status, n, msg == "")
	fmt.Printf("%x\n", c.Output[:n])

	c = &sdk.Call{
		Method: "blake3",
		Params: []byte(`{"length": 8}`),
		Input:  []byte("abc"),
		Output: make([]byte, 64),
	}
	status, n, _ = cryptolib.Methods().Dispatch(c)
	fmt.Println(status, n)
	fmt.Printf("%x\n", c.Output[:n])
	// Output:
	// 0 32 true
	// ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
	// 0 8
	// 6437b3ac38465133
}

// TestWarm: every warm-up call the guest makes at initialization succeeds
// (a failing one would leave its set-up to the first job).
func TestWarm(t *testing.T) {
	if err := cryptolib.Warm(cryptolib.Methods()); err != nil {
		t.Fatal(err)
	}
}
