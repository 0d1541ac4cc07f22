package cryptolib_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/inos-node/node/guests/abi"
	"github.com/inos-node/node/guests/cryptolib"
	"github.com/inos-node/node/guests/sdk"
)

// sentinel fills output buffers so that a test can see which bytes a method
// wrote.
const sentinel = 0xa5

// result is what the host sees of one call.
type result struct {
	status int32
	n      int // output length, or bytes needed for StatusOutputTooSmall
	out    []byte
	msg    string
	buf    []byte // the whole output buffer after the call
}

// call runs method through Dispatch (so the ABI status mapping is covered)
// with an output buffer of capacity outCap filled with sentinel bytes.
func call(ms sdk.Methods, method, params string, input []byte, outCap int) result {
	buf := bytes.Repeat([]byte{sentinel}, outCap)
	c := &sdk.Call{JobID: 1, Method: method, Params: []byte(params), Input: input, Output: buf}
	status, n, msg := ms.Dispatch(c)
	r := result{status: status, n: n, msg: msg, buf: buf}
	if status == abi.StatusOK {
		r.out = buf[:n]
	}
	return r
}

// mustCall is call that fails the test unless the status is OK, and checks
// that the method wrote nothing past its output length.
func mustCall(t *testing.T, ms sdk.Methods, method, params string, input []byte) []byte {
	t.Helper()
	const slack = 64
	r := call(ms, method, params, input, len(input)+1024+slack)
	if r.status != abi.StatusOK {
		t.Fatalf("%s %s: status %d: %s", method, params, r.status, r.msg)
	}
	for i, b := range r.buf[r.n:] {
		if b != sentinel {
			t.Fatalf("%s %s: wrote byte %d past its %d-byte output", method, params, r.n+i, r.n)
		}
	}
	return r.out
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMethodNames(t *testing.T) {
	want := []string{"aes_decrypt", "aes_encrypt", "blake3", "ed25519_public_key", "ed25519_sign", "ed25519_verify", "sha256", "sha512"}
	if got := cryptolib.Methods().Names(); !slices.Equal(got, want) {
		t.Fatalf("methods %v, want %v", got, want)
	}
}

// TestSHA2 checks the digests against NIST's published vectors: the
// FIPS 180-4 examples and the first records of the CAVP byte-oriented
// ShortMsg files.
func TestSHA2(t *testing.T) {
	ms := cryptolib.Methods()
	check := func(t *testing.T, method string, r record, msg []byte) {
		t.Helper()
		got := mustCall(t, ms, method, `{}`, msg)
		if want := r.hex(t, "MD"); !bytes.Equal(got, want) {
			t.Errorf("%s, record at line %d: got %x, want %x", method, r.line, got, want)
		}
	}
	t.Run("FIPS180-4", func(t *testing.T) {
		methods := map[string]string{"SHA-256": "sha256", "SHA-512": "sha512"}
		for _, r := range readRecords(t, "sha2_fips180.rsp") {
			msg := r.hex(t, "Msg")
			if rep, ok := r.fields["Repeat"]; ok {
				n, err := strconv.Atoi(rep)
				if err != nil {
					t.Fatal(err)
				}
				msg = bytes.Repeat(msg, n)
			}
			check(t, methods[r.section], r, msg)
		}
	})
	for _, tc := range []struct{ file, section, method string }{
		{"SHA256ShortMsg.rsp", "L = 32", "sha256"},
		{"SHA512ShortMsg.rsp", "L = 64", "sha512"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			for _, r := range readRecords(t, tc.file) {
				if r.section != tc.section {
					t.Fatalf("record at line %d in section %q, want %q", r.line, r.section, tc.section)
				}
				bits, err := strconv.Atoi(r.str(t, "Len"))
				if err != nil || bits%8 != 0 {
					t.Fatalf("record at line %d: Len %q", r.line, r.str(t, "Len"))
				}
				// CAVP writes the empty message as "Msg = 00" with Len = 0.
				check(t, tc.method, r, r.hex(t, "Msg")[:bits/8])
			}
		})
	}
}

// TestBLAKE3 checks the official test vectors of the BLAKE3 team: the
// default-length hash, the full extended output through "length", and the
// keyed hash, for inputs from 0 to 102400 bytes.
func TestBLAKE3(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "blake3_test_vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vectors struct {
		Key   string `json:"key"`
		Cases []struct {
			InputLen  int    `json:"input_len"`
			Hash      string `json:"hash"`
			KeyedHash string `json:"keyed_hash"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors.Cases) == 0 || len(vectors.Key) != 32 {
		t.Fatalf("unexpected vector file: %d cases, key %q", len(vectors.Cases), vectors.Key)
	}
	keyHex := hex.EncodeToString([]byte(vectors.Key))
	ms := cryptolib.Methods()
	for _, tc := range vectors.Cases {
		input := make([]byte, tc.InputLen)
		for i := range input {
			input[i] = byte(i % 251)
		}
		for _, mode := range []struct{ name, params, want string }{
			{"hash", ``, tc.Hash},
			{"keyed_hash", `"key":"` + keyHex + `"`, tc.KeyedHash},
		} {
			want := unhex(t, mode.want)
			sep := ""
			if mode.params != "" {
				sep = ","
			}
			if got := mustCall(t, ms, "blake3", "{"+mode.params+"}", input); !bytes.Equal(got, want[:32]) {
				t.Errorf("input_len %d, %s, default length: got %x, want %x", tc.InputLen, mode.name, got, want[:32])
			}
			params := fmt.Sprintf(`{%s%s"length":%d}`, mode.params, sep, len(want))
			if got := mustCall(t, ms, "blake3", params, input); !bytes.Equal(got, want) {
				t.Errorf("input_len %d, %s, length %d: got %x, want %x", tc.InputLen, mode.name, len(want), got, want)
			}
		}
	}
}

// TestEd25519 checks RFC 8032's test vectors: key derivation, the
// (deterministic) signature, verification, and rejection of an altered
// message or signature.
func TestEd25519(t *testing.T) {
	ms := cryptolib.Methods()
	for _, r := range readRecords(t, "ed25519_rfc8032.rsp") {
		t.Run(r.section, func(t *testing.T) {
			seed, pub, msg, sig := r.str(t, "SecretKey"), r.str(t, "PublicKey"), r.hex(t, "Message"), r.str(t, "Signature")
			for _, priv := range []string{seed, seed + pub} { // 32-byte seed and 64-byte crypto/ed25519 form
				params := `{"private_key":"` + priv + `"}`
				if got := hex.EncodeToString(mustCall(t, ms, "ed25519_public_key", params, nil)); got != pub {
					t.Errorf("public key from %d-byte private key: got %s, want %s", len(priv)/2, got, pub)
				}
				if got := hex.EncodeToString(mustCall(t, ms, "ed25519_sign", params, msg)); got != sig {
					t.Errorf("signature with %d-byte private key: got %s, want %s", len(priv)/2, got, sig)
				}
			}
			verify := func(msg []byte, sig string) string {
				return string(mustCall(t, ms, "ed25519_verify", `{"public_key":"`+pub+`","signature":"`+sig+`"}`, msg))
			}
			if got := verify(msg, sig); got != `{"valid":true}` {
				t.Errorf("verify: got %s", got)
			}
			altered := append([]byte(nil), msg...)
			if len(altered) == 0 {
				altered = []byte{0} // TEST 1 signs the empty message
			} else {
				altered[len(altered)/2] ^= 0x01
			}
			if got := verify(altered, sig); got != `{"valid":false}` {
				t.Errorf("verify with a flipped message bit: got %s", got)
			}
			for _, i := range []int{0, 40} { // a bit of R, a bit of S
				bad := unhex(t, sig)
				bad[i] ^= 0x10
				if got := verify(msg, hex.EncodeToString(bad)); got != `{"valid":false}` {
					t.Errorf("verify with signature byte %d altered: got %s", i, got)
				}
			}
		})
	}
}

// TestAESGCMSpec checks the GCM specification's test cases with 96-bit IVs:
// encryption with the given nonce gives IV ‖ C ‖ T, decryption gives P
// back, and any altered byte (or the wrong aad) fails authentication.
func TestAESGCMSpec(t *testing.T) {
	ms := cryptolib.Methods()
	for _, r := range readRecords(t, "gcm_spec.rsp") {
		t.Run(r.section, func(t *testing.T) {
			key, iv, aad := r.str(t, "Key"), r.str(t, "IV"), r.str(t, "AAD")
			pt := r.hex(t, "PT")
			sealed := slices.Concat(r.hex(t, "IV"), r.hex(t, "CT"), r.hex(t, "Tag"))

			enc := fmt.Sprintf(`{"key":%q,"nonce":%q,"aad":%q}`, key, iv, aad)
			if got := mustCall(t, ms, "aes_encrypt", enc, pt); !bytes.Equal(got, sealed) {
				t.Errorf("encrypt: got %x, want %x", got, sealed)
			}
			dec := fmt.Sprintf(`{"key":%q,"aad":%q}`, key, aad)
			if got := mustCall(t, ms, "aes_decrypt", dec, sealed); !bytes.Equal(got, pt) {
				t.Errorf("decrypt: got %x, want %x", got, pt)
			}

			for _, i := range []int{0, 12, len(sealed) - 1} { // nonce, ciphertext (or tag when empty), tag
				tampered := slices.Clone(sealed)
				tampered[i] ^= 0x01
				wantAuthFailure(t, ms, dec, tampered, fmt.Sprintf("byte %d altered", i))
			}
			otherAAD := "00"
			if aad != "" {
				otherAAD = ""
			}
			wantAuthFailure(t, ms, fmt.Sprintf(`{"key":%q,"aad":%q}`, key, otherAAD), sealed, "other aad")
		})
	}
}

// wantAuthFailure decrypts and wants invalidInput, with no plaintext left
// in the output buffer.
func wantAuthFailure(t *testing.T, ms sdk.Methods, params string, sealed []byte, what string) {
	t.Helper()
	r := call(ms, "aes_decrypt", params, sealed, len(sealed))
	if r.status != abi.StatusBadInput || !strings.Contains(r.msg, "message authentication failed") {
		t.Errorf("%s: status %d %q, want %d and an authentication failure", what, r.status, r.msg, abi.StatusBadInput)
	}
	if n := len(sealed) - 28; n > 0 && !bytes.Equal(r.buf[:n], make([]byte, n)) {
		t.Errorf("%s: output after a failed decryption is %x, want it cleared", what, r.buf[:n])
	}
}

func TestAESRoundTrip(t *testing.T) {
	ms := cryptolib.Methods()
	plaintext := []byte("attack at dawn; bring the good coffee")
	for _, key := range []string{
		strings.Repeat("0f", 16), // AES-128
		strings.Repeat("1e", 24), // AES-192
		strings.Repeat("2d", 32), // AES-256
	} {
		for _, aad := range []string{"", "c0ffee"} {
			enc := fmt.Sprintf(`{"key":%q,"aad":%q}`, key, aad)
			a := mustCall(t, ms, "aes_encrypt", enc, plaintext)
			b := mustCall(t, ms, "aes_encrypt", enc, plaintext)
			if len(a) != 12+len(plaintext)+16 {
				t.Fatalf("key %d bytes: output %d bytes, want %d", len(key)/2, len(a), 12+len(plaintext)+16)
			}
			if bytes.Equal(a[:12], b[:12]) {
				t.Errorf("key %d bytes: two encryptions drew the same nonce %x", len(key)/2, a[:12])
			}
			dec := fmt.Sprintf(`{"key":%q,"aad":%q}`, key, aad)
			for _, sealed := range [][]byte{a, b} {
				if got := mustCall(t, ms, "aes_decrypt", dec, sealed); !bytes.Equal(got, plaintext) {
					t.Errorf("key %d bytes, aad %q: round trip gave %q", len(key)/2, aad, got)
				}
			}
		}
	}
}

func TestAESDecryptShortInput(t *testing.T) {
	ms := cryptolib.Methods()
	params := `{"key":"` + strings.Repeat("00", 16) + `"}`
	for _, n := range []int{0, 12, 27} {
		r := call(ms, "aes_decrypt", params, make([]byte, n), 64)
		if r.status != abi.StatusBadInput || !strings.Contains(r.msg, "at least 28 bytes, got "+strconv.Itoa(n)) {
			t.Errorf("%d-byte input: status %d %q, want %d", n, r.status, r.msg, abi.StatusBadInput)
		}
	}
	// Exactly 28 bytes is a well-formed empty message; here its tag is wrong.
	if r := call(ms, "aes_decrypt", params, make([]byte, 28), 64); r.status != abi.StatusBadInput ||
		!strings.Contains(r.msg, "message authentication failed") {
		t.Errorf("28 zero bytes: status %d %q, want an authentication failure", r.status, r.msg)
	}
}

// TestEd25519InconsistentKey: a 64-byte private key whose second half is
// not its seed's public key is refused, not used to sign.
func TestEd25519InconsistentKey(t *testing.T) {
	seed := "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	otherPub := "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c" // TEST 2's
	for _, method := range []string{"ed25519_public_key", "ed25519_sign"} {
		r := call(cryptolib.Methods(), method, `{"private_key":"`+seed+otherPub+`"}`, []byte("m"), 64)
		if r.status != abi.StatusBadParams || !strings.Contains(r.msg, "private_key: its last 32 bytes are not the public key") {
			t.Errorf("%s: status %d %q, want %d", method, r.status, r.msg, abi.StatusBadParams)
		}
	}
}

func TestBadParams(t *testing.T) {
	var (
		k16   = strings.Repeat("00", 16)
		k32   = strings.Repeat("00", 32)
		sig   = strings.Repeat("00", 64)
		cases = []struct {
			method, params string
			want           string // in the message
		}{
			{"sha256", `{"length":32}`, `unknown field "length"`},
			{"sha512", `{"key":"00"}`, `unknown field "key"`},
			{"blake3", `{"length":0}`, "length: want 1 to 65536 bytes, got 0"},
			{"blake3", `{"length":65537}`, "length: want 1 to 65536 bytes, got 65537"},
			{"blake3", `{"length":-1}`, "length: want 1 to 65536 bytes, got -1"},
			{"blake3", `{"length":"32"}`, "length: got a JSON string, want int"},
			{"blake3", `{"length":1.5}`, "length: got a JSON number 1.5, want int"},
			{"blake3", `{"key":"` + k16 + `"}`, "key: want 32 bytes of hex, got 16 bytes"},
			{"blake3", `{"key":""}`, "key: missing, want 32 bytes of hex"},
			{"blake3", `{"key":"` + k32[:63] + `"}`, "key: want 32 bytes of hex, got invalid hex (odd length hex string)"},
			{"blake3", `{"key":"zz` + k32[2:] + `"}`, "key: want 32 bytes of hex, got invalid hex"},
			{"blake3", `{"key":32}`, "key: got a JSON number, want string"},
			{"blake3", `{"mode":"keyed"}`, `unknown field "mode"`},
			{"ed25519_public_key", `{}`, "private_key: missing, want 32 or 64 bytes of hex"},
			{"ed25519_public_key", `{"private_key":"` + k16 + `"}`, "private_key: want 32 or 64 bytes of hex, got 16 bytes"},
			{"ed25519_sign", `{"private_key":"` + k32 + `00"}`, "private_key: want 32 or 64 bytes of hex, got 33 bytes"},
			{"ed25519_sign", `{"private_key":"x` + k32[1:] + `"}`, "private_key: want 32 or 64 bytes of hex, got invalid hex"},
			{"ed25519_sign", `{"private_key":["` + k32 + `"]}`, "private_key: got a JSON array, want string"},
			{"ed25519_sign", `{"seed":"` + k32 + `"}`, `unknown field "seed"`},
			{"ed25519_verify", `{"signature":"` + sig + `"}`, "public_key: missing, want 32 bytes of hex"},
			{"ed25519_verify", `{"public_key":"` + k16 + `","signature":"` + sig + `"}`, "public_key: want 32 bytes of hex, got 16 bytes"},
			{"ed25519_verify", `{"public_key":"` + k32 + `","signature":"` + k32 + `"}`, "signature: want 64 bytes of hex, got 32 bytes"},
			{"ed25519_verify", `{"public_key":"` + k32 + `"}`, "signature: missing, want 64 bytes of hex"},
			{"ed25519_verify", `{"public_key":"` + k32 + `","signature":"` + sig + `","message":"00"}`, `unknown field "message"`},
			{"aes_encrypt", `{}`, "key: missing, want 16, 24 or 32 bytes of hex"},
			{"aes_encrypt", `{"key":"` + k16[2:] + `"}`, "key: want 16, 24 or 32 bytes of hex, got 15 bytes"},
			{"aes_encrypt", `{"key":"` + k32 + `00"}`, "key: want 16, 24 or 32 bytes of hex, got 33 bytes"},
			{"aes_encrypt", `{"key":"` + k16 + `","nonce":"00"}`, "nonce: want 12 bytes of hex, got 1 bytes"},
			{"aes_encrypt", `{"key":"` + k16 + `","nonce":""}`, "nonce: missing, want 12 bytes of hex"},
			{"aes_encrypt", `{"key":"` + k16 + `","nonce":"` + k16 + `"}`, "nonce: want 12 bytes of hex, got 16 bytes"},
			{"aes_encrypt", `{"key":"` + k16 + `","aad":"abc"}`, "aad: want any number of bytes of hex, got invalid hex"},
			{"aes_encrypt", `{"key":"` + k16 + `","aad":0}`, "aad: got a JSON number, want string"},
			{"aes_encrypt", `{"key":"` + k16 + `","tag_length":12}`, `unknown field "tag_length"`},
			{"aes_decrypt", `{"key":"` + k16 + `","nonce":"` + k16[:24] + `"}`, `unknown field "nonce"`},
			{"aes_decrypt", `{"key":"0g` + k16[2:] + `"}`, "key: want 16, 24 or 32 bytes of hex, got invalid hex"},
			{"aes_decrypt", `{"key":"` + k16 + `","aad":"a"}`, "aad: want any number of bytes of hex, got invalid hex"},
			{"aes_decrypt", `[]`, "got a JSON array"},
		}
	)
	ms := cryptolib.Methods()
	for _, tc := range cases {
		// Input long enough for every method, so that only the params are wrong.
		r := call(ms, tc.method, tc.params, make([]byte, 64), 1024)
		if r.status != abi.StatusBadParams || !strings.Contains(r.msg, tc.want) {
			t.Errorf("%s %s: status %d %q, want %d and a message containing %q",
				tc.method, tc.params, r.status, r.msg, abi.StatusBadParams, tc.want)
		}
	}
}

// TestOutputTooSmall: with one byte less than it needs, each method fails
// with StatusOutputTooSmall and reports the size it needs, before writing
// anything; with exactly that size it succeeds.
func TestOutputTooSmall(t *testing.T) {
	var (
		k16   = strings.Repeat("00", 16)
		seed  = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
		pub   = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
		sig   = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
		input = []byte("a message of some forty bytes, or so....")
	)
	sealed := mustCall(t, cryptolib.Methods(), "aes_encrypt", `{"key":"`+k16+`"}`, input)
	cases := []struct {
		method, params string
		input          []byte
		need           int
	}{
		{"sha256", `{}`, input, 32},
		{"sha512", `{}`, input, 64},
		{"blake3", `{}`, input, 32},
		{"blake3", `{"length":1}`, input, 1},
		{"blake3", `{"length":65536}`, input, 65536},
		{"blake3", `{"key":"` + seed + `","length":100}`, input, 100},
		{"ed25519_public_key", `{"private_key":"` + seed + `"}`, nil, 32},
		{"ed25519_sign", `{"private_key":"` + seed + `"}`, input, 64},
		{"ed25519_verify", `{"public_key":"` + pub + `","signature":"` + sig + `"}`, nil, len(`{"valid":true}`)},
		{"ed25519_verify", `{"public_key":"` + pub + `","signature":"` + sig + `"}`, input, len(`{"valid":false}`)},
		{"aes_encrypt", `{"key":"` + k16 + `"}`, input, 12 + len(input) + 16},
		{"aes_encrypt", `{"key":"` + k16 + `"}`, nil, 28},
		{"aes_decrypt", `{"key":"` + k16 + `"}`, sealed, len(input)},
	}
	ms := cryptolib.Methods()
	for _, tc := range cases {
		r := call(ms, tc.method, tc.params, tc.input, tc.need-1)
		if r.status != abi.StatusOutputTooSmall || r.n != tc.need {
			t.Errorf("%s %s, %d-byte output: status %d, length %d (%s); want %d, %d",
				tc.method, tc.params, tc.need-1, r.status, r.n, r.msg, abi.StatusOutputTooSmall, tc.need)
		}
		if !bytes.Equal(r.buf, bytes.Repeat([]byte{sentinel}, tc.need-1)) {
			t.Errorf("%s %s: wrote into an output too small for the result", tc.method, tc.params)
		}
		if r := call(ms, tc.method, tc.params, tc.input, tc.need); r.status != abi.StatusOK || r.n != tc.need {
			t.Errorf("%s %s, %d-byte output: status %d, length %d (%s); want OK, %d",
				tc.method, tc.params, tc.need, r.status, r.n, r.msg, tc.need)
		}
	}
}
