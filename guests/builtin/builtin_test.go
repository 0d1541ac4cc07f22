package builtin_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/inos-node/node/client"
	"github.com/inos-node/node/guests/builtin"
	"github.com/inos-node/node/guests/cryptolib"
	"github.com/inos-node/node/guests/imagelib"
	"github.com/inos-node/node/guests/imagelib/sample"
	"github.com/inos-node/node/guests/sdk"
	"github.com/inos-node/node/internal/nodetest"
	"github.com/inos-node/node/schema"
)

// node is a node serving the built-in set in this process, and a producer.
type node struct {
	set *builtin.Set
	c   *client.Client
}

// startNode loads the built-in guests (only those named, or all) and
// serves them on a fresh region.
func startNode(t *testing.T, only ...string) *node {
	t.Helper()
	ctx := context.Background()
	set, err := builtin.Load(ctx, builtin.Options{Only: only})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close(ctx) })
	return &node{set: set, c: nodetest.Start(t, set.Registry, 256<<20)}
}

// put copies b into a new shared buffer (as a producer writes its input).
func (n *node) put(t *testing.T, b []byte) client.Buffer {
	t.Helper()
	buf, err := n.c.Alloc(max(len(b), 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.c.Free(buf) })
	copy(buf.Bytes, b)
	buf.Ref.Length = uint64(len(b))
	return buf
}

// call runs one job with an output buffer of outCap bytes.
func (n *node) call(t *testing.T, lib, method, params string, in []byte, outCap int) client.Result {
	t.Helper()
	job := client.Job{Library: lib, Method: method, Params: []byte(params), Deadline: time.Now().Add(time.Minute)}
	if in != nil {
		job.Input = n.put(t, in).Ref
	}
	if outCap > 0 {
		job.Output = n.put(t, make([]byte, outCap)).Ref
	}
	res, err := n.c.Call(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// native runs the same method of the same Go code in this process.
func native(t *testing.T, ms sdk.Methods, method, params string, in []byte, outCap int) []byte {
	t.Helper()
	c := &sdk.Call{Method: method, Params: []byte(params), Input: in, Output: make([]byte, outCap)}
	m, ok := ms[method]
	if !ok {
		t.Fatalf("no native method %q", method)
	}
	n, err := m(c)
	if err != nil {
		t.Fatalf("native %s: %v", method, err)
	}
	return c.Output[:n]
}

// smallPNG is a 64×48 image with gradients and a marked corner.
func smallPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, color.NRGBA{uint8(x * 4), uint8(y * 5), uint8(x * y), 255})
		}
	}
	img.Set(0, 0, color.NRGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const (
	rfcSeed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	rfcPub  = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
	aesKey  = "000102030405060708090a0b0c0d0e0f"
	nonce   = "cafebabefacedbaddecaf888"
)

// everyMethod is a job of every method of the image and crypto guests.
type job struct {
	lib, method, params string
	in                  []byte
}

func everyMethod(t *testing.T) []job {
	pic := smallPNG(t)
	jpg, err := sample.JPEG(160, 120, 3, 80)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("The quick brown fox jumps over the lazy dog")
	sig := native(t, cryptolib.Methods(), "ed25519_sign", `{"private_key":"`+rfcSeed+`"}`, msg, 64)
	sealed := native(t, cryptolib.Methods(), "aes_encrypt", `{"key":"`+aesKey+`","nonce":"`+nonce+`"}`, msg, 1024)
	return []job{
		{"image", "info", `{}`, jpg},
		{"image", "resize", `{"width":32,"height":24,"format":"png"}`, pic},
		{"image", "resize", `{"width":80,"filter":"nearest","format":"jpeg","quality":70}`, jpg},
		{"image", "resize", `{"width":40,"height":40,"preserve_aspect":true,"filter":"catmullrom","format":"png"}`, jpg},
		{"image", "resize", `{"width":1000,"height":1000,"if_larger_than":true,"format":"png"}`, pic},
		{"image", "crop", `{"x":8,"y":4,"width":20,"height":10,"format":"png"}`, pic},
		{"image", "blur", `{"sigma":1.5,"format":"png"}`, pic},
		{"image", "brighten", `{"percent":25,"format":"png"}`, pic},
		{"image", "contrast", `{"percent":-30,"format":"png"}`, pic},
		{"image", "grayscale", `{"format":"png"}`, pic},
		{"image", "rotate90", `{"format":"png"}`, pic},
		{"image", "rotate180", `{"format":"png"}`, pic},
		{"image", "rotate270", `{"format":"png"}`, pic},
		{"image", "fliph", `{"format":"png"}`, pic},
		{"image", "flipv", `{"format":"png"}`, pic},
		{"image", "invert", `{"format":"png"}`, pic},
		{"image", "invert", `{"format":"webp"}`, pic},
		{"image", "batch", `{"operations":[{"op":"resize","width":48},{"op":"grayscale"},{"op":"rotate90"}],"format":"jpeg","quality":90}`, jpg},
		{"crypto", "sha256", `{}`, msg},
		{"crypto", "sha512", `{}`, msg},
		{"crypto", "blake3", `{"length":64}`, msg},
		{"crypto", "ed25519_public_key", `{"private_key":"` + rfcSeed + `"}`, nil},
		{"crypto", "ed25519_sign", `{"private_key":"` + rfcSeed + `"}`, msg},
		{"crypto", "ed25519_verify", `{"public_key":"` + rfcPub + `","signature":"` + fmt.Sprintf("%x", sig) + `"}`, msg},
		{"crypto", "aes_encrypt", `{"key":"` + aesKey + `","nonce":"` + nonce + `"}`, msg},
		{"crypto", "aes_encrypt", `{"key":"` + aesKey + `"}`, msg}, // a random nonce
		{"crypto", "aes_decrypt", `{"key":"` + aesKey + `"}`, sealed},
	}
}

// TestGuestsMatchNative runs every method of the image and crypto guests
// through the node and the same Go code natively: the outputs must be
// equal byte for byte.
func TestGuestsMatchNative(t *testing.T) {
	n := startNode(t, "image", "crypto")
	for _, tc := range everyMethod(t) {
		if tc.method == "aes_encrypt" && !strings.Contains(tc.params, "nonce") {
			continue // random: TestCryptoGetsRealRandomness
		}
		t.Run(tc.lib+"."+tc.method, func(t *testing.T) {
			ms := imagelib.Methods()
			if tc.lib == "crypto" {
				ms = cryptolib.Methods()
			}
			const outCap = 1 << 20
			want := native(t, ms, tc.method, tc.params, tc.in, outCap)
			res := n.call(t, tc.lib, tc.method, tc.params, tc.in, outCap)
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.Output.Bytes, want) {
				t.Fatalf("output of %d bytes differs from the native %d bytes", len(res.Output.Bytes), len(want))
			}
		})
	}
}

// TestFuelIsDeterministic: two nodes running the same jobs in the same
// order charge the same fuel for each, to the unit, encryption with a
// random nonce included (the nonce comes from inos.random_get, and WASI's
// random_get, which seeds the guest runtime, is deterministic).
func TestFuelIsDeterministic(t *testing.T) {
	jobs := everyMethod(t)
	var fuel [2][]uint64
	for k := range fuel {
		n := startNode(t, "image", "crypto")
		for round := 0; round < 2; round++ {
			for _, j := range jobs {
				res := n.call(t, j.lib, j.method, j.params, j.in, 1<<20)
				if res.Err() != nil || res.FuelUsed == 0 {
					t.Fatalf("%s.%s: %v, fuel %d", j.lib, j.method, res.Err(), res.FuelUsed)
				}
				fuel[k] = append(fuel[k], res.FuelUsed)
			}
		}
	}
	for i := range fuel[0] {
		if fuel[0][i] != fuel[1][i] {
			j := jobs[i%len(jobs)]
			t.Errorf("job %d (%s.%s): fuel %d on one node, %d on the other", i, j.lib, j.method, fuel[0][i], fuel[1][i])
		}
	}
	t.Logf("fuel per job, both nodes: %v", fuel[0])
}

// TestRefusedThroughTheNode: bad params, bad input and a short output
// buffer get their error kinds through the node, which keeps serving; the
// output-too-large error says how much the output needs, and a retry with
// as much succeeds.
func TestRefusedThroughTheNode(t *testing.T) {
	n := startNode(t, "image", "crypto")
	pic := smallPNG(t)
	for _, tc := range []struct {
		name, lib, method, params string
		in                        []byte
		kind                      schema.ErrorKind
		msg                       string
	}{
		{"unknown field", "image", "resize", `{"width":10,"colour":"red"}`, pic, schema.ErrorInvalidParams, `colour`},
		{"wrong type", "image", "blur", `{"sigma":"lots"}`, pic, schema.ErrorInvalidParams, "sigma"},
		{"truncated image", "image", "grayscale", `{}`, pic[:len(pic)/2], schema.ErrorInvalidInput, ""},
		{"not an image", "image", "grayscale", `{}`, []byte("hello, world"), schema.ErrorInvalidInput, ""},
		{"bad key", "crypto", "aes_encrypt", `{"key":"00"}`, []byte("x"), schema.ErrorInvalidParams, "key"},
		{"tampered", "crypto", "aes_decrypt", `{"key":"` + aesKey + `"}`, make([]byte, 40), schema.ErrorInvalidInput, "authentication"},
		{"unknown method", "crypto", "md5", `{}`, []byte("x"), schema.ErrorUnknownMethod, "md5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := n.call(t, tc.lib, tc.method, tc.params, tc.in, 1<<20)
			if res.Kind != tc.kind || !strings.Contains(res.Message, tc.msg) {
				t.Fatalf("got %v %q, want %v containing %q", res.Kind, res.Message, tc.kind, tc.msg)
			}
			t.Logf("%v: %s", res.Kind, res.Message)
			if ok := n.call(t, "crypto", "sha256", `{}`, []byte("still serving"), 64); ok.Err() != nil {
				t.Fatalf("after the refusal: %v", ok.Err())
			}
		})
	}

	res := n.call(t, "image", "resize", `{"width":60,"format":"png"}`, pic, 100)
	if res.Kind != schema.ErrorOutputTooLarge || res.OutputNeeded <= 100 {
		t.Fatalf("got %v (%s), needed %d: want outputTooLarge with the size needed", res.Kind, res.Message, res.OutputNeeded)
	}
	if again := n.call(t, "image", "resize", `{"width":60,"format":"png"}`, pic, int(res.OutputNeeded)); again.Err() != nil ||
		uint64(len(again.Output.Bytes)) != res.OutputNeeded {
		t.Fatalf("retry with %d bytes: %v, %d bytes", res.OutputNeeded, again.Err(), len(again.Output.Bytes))
	}
}

// TestCryptoGetsRealRandomness: the crypto guest draws its nonces from the
// host's crypto/rand (the other guests get a deterministic source), so
// two encryptions without a nonce differ.
func TestCryptoGetsRealRandomness(t *testing.T) {
	n := startNode(t, "crypto")
	a := n.call(t, "crypto", "aes_encrypt", `{"key":"`+aesKey+`"}`, []byte("same message"), 256)
	b := n.call(t, "crypto", "aes_encrypt", `{"key":"`+aesKey+`"}`, []byte("same message"), 256)
	if a.Err() != nil || b.Err() != nil {
		t.Fatal(a.Err(), b.Err())
	}
	if bytes.Equal(a.Output.Bytes[:12], b.Output.Bytes[:12]) {
		t.Fatalf("two random nonces are equal: %x", a.Output.Bytes[:12])
	}
}
