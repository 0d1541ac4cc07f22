package cryptolib

import "github.com/inos-node/node/guests/sdk"

// Warm runs one small call of every method of ms (a table from Methods):
// the guest runs it at initialization so that one-time set-up (Ed25519's
// precomputed tables, AES and GHASH state) is not charged to a first job.
// The calls use fixed keys and nonces and need no entropy.
// It returns the calls that failed.
func Warm(ms sdk.Methods) error { return ms.Warm(warmCalls()...) }

func warmCalls() []sdk.Call {
	const seed = `"private_key":"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"`
	const aes128, aes256 = `"key":"000102030405060708090a0b0c0d0e0f"`, `"key":"000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"`
	msg := []byte("warm up")
	sealed := make([]byte, len(msg)+gcmNonceSize+gcmTagSize)
	calls := []sdk.Call{
		{Method: "sha256", Params: []byte(`{}`)},
		{Method: "sha512", Params: []byte(`{}`)},
		{Method: "blake3", Params: []byte(`{}`)},
		{Method: "ed25519_public_key", Params: []byte(`{` + seed + `}`)},
		{Method: "ed25519_sign", Params: []byte(`{` + seed + `}`)},
		{Method: "ed25519_verify", Params: []byte(`{"public_key":"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a","signature":"` +
			"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" + `"}`)},
		{Method: "aes_encrypt", Params: []byte(`{` + aes256 + `,"nonce":"000000000000000000000000"}`)},
		{Method: "aes_encrypt", Params: []byte(`{` + aes128 + `,"nonce":"000000000000000000000000"}`), Output: sealed},
		{Method: "aes_decrypt", Params: []byte(`{` + aes128 + `}`), Input: sealed},
	}
	for i := range calls {
		if calls[i].Input == nil {
			calls[i].Input = msg
		}
		if calls[i].Output == nil {
			calls[i].Output = make([]byte, 128)
		}
	}
	return calls
}
