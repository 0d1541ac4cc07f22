package jsonparams

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	deep := func(n int) string { return strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1) }
	deepArr := func(n int) string { return "{" + `"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + "}" }
	tests := []struct {
		name   string
		in     string
		lim    Limits
		want   error // nil, or the sentinel
		offset int64
		key    string
	}{
		{name: "empty object", in: `{}`},
		{name: "spaces", in: " \t\r\n{ } \n"},
		{name: "typical", in: `{"width":128,"height":128,"format":"webp","quality":0.8,"tags":["a","b"],"x":null,"y":true,"z":false}`},
		{name: "numbers", in: `{"a":[0,-0,1,-1,12.5,1e5,1E+5,1e-5,-0.0e0,123456789012345678901234567890]}`},
		{name: "number beyond float64", in: `{"":[1E700,-1e-700]}`}, // valid JSON; found by FuzzParams (a harness bug)
		{name: "escapes", in: `{"a\"b":"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00\ud800"}`},
		{name: "utf-8", in: `{"héllo":"wörld 😀"}`},
		{name: "nested keys fine", in: `{"proto":{"__proto":1,"__proto__x":2,"Constructor":3,"constructors":4}}`},
		{name: "forbidden words as values", in: `{"a":"__proto__","b":["constructor"]}`},
		{name: "duplicate keys", in: `{"a":1,"a":2}`},
		{name: "depth at limit", in: deep(64)},
		{name: "array depth at limit", in: deepArr(64)},
		{name: "custom depth", in: deep(3), lim: Limits{MaxDepth: 3}},
		{name: "depth beyond 128", in: deep(300), lim: Limits{MaxDepth: 300}},
		{name: "size at limit", in: `{"a":"` + strings.Repeat("x", 100-8) + `"}`, lim: Limits{MaxBytes: 100}},

		{name: "empty", in: "", want: ErrNotObject},
		{name: "only spaces", in: "  \n", want: ErrNotObject, offset: 3},
		{name: "array", in: `[1,2]`, want: ErrNotObject},
		{name: "string", in: `"x"`, want: ErrNotObject},
		{name: "number", in: ` 1`, want: ErrNotObject, offset: 1},
		{name: "null", in: `null`, want: ErrNotObject},

		{name: "too large", in: `{"a":"` + strings.Repeat("x", 100-7) + `"}`, lim: Limits{MaxBytes: 100}, want: ErrTooLarge, offset: 100},
		{name: "too deep", in: deep(65), want: ErrTooDeep, offset: 5 * 64},
		{name: "too deep array", in: deepArr(65), want: ErrTooDeep, offset: 5 + 63},
		{name: "custom depth exceeded", in: deep(4), lim: Limits{MaxDepth: 3}, want: ErrTooDeep, offset: 15},

		{name: "proto", in: `{"a":1,"__proto__":{}}`, want: ErrForbiddenKey, offset: 7, key: "__proto__"},
		{name: "constructor", in: `{"constructor":1}`, want: ErrForbiddenKey, offset: 1, key: "constructor"},
		{name: "nested proto", in: `{"a":[{"b":{"__proto__":null}}]}`, want: ErrForbiddenKey, offset: 12, key: "__proto__"},
		{name: "escaped proto", in: `{"\u005f_proto__":1}`, want: ErrForbiddenKey, offset: 1, key: "__proto__"},
		{name: "escaped constructor", in: `{"c\u006Fnstructor":1}`, want: ErrForbiddenKey, offset: 1, key: "constructor"},
		{name: "fully escaped", in: `{"\u005f\u005f\u0070\u0072\u006f\u0074\u006f\u005f\u005f":1}`, want: ErrForbiddenKey, offset: 1, key: "__proto__"},
		{name: "escaped solidus", in: `{"\/":{"construct\u006fr":1}}`, want: ErrForbiddenKey, offset: 7, key: "constructor"},
		{name: "proto after spaces", in: "{ \"x\" : 1 ,\n \"__proto__\" : 2 }", want: ErrForbiddenKey, offset: 13, key: "__proto__"},

		{name: "trailing garbage", in: `{}x`, want: ErrSyntax, offset: 2},
		{name: "two objects", in: `{}{}`, want: ErrSyntax, offset: 2},
		{name: "unterminated object", in: `{"a":1`, want: ErrSyntax, offset: 6},
		{name: "unterminated string", in: `{"a":"xyz`, want: ErrSyntax, offset: 9},
		{name: "missing colon", in: `{"a" 1}`, want: ErrSyntax, offset: 5},
		{name: "missing value", in: `{"a":}`, want: ErrSyntax, offset: 5},
		{name: "trailing comma object", in: `{"a":1,}`, want: ErrSyntax, offset: 7},
		{name: "trailing comma array", in: `{"a":[1,]}`, want: ErrSyntax, offset: 8},
		{name: "unquoted key", in: `{a:1}`, want: ErrSyntax, offset: 1},
		{name: "single quotes", in: `{'a':1}`, want: ErrSyntax, offset: 1},
		{name: "leading zero", in: `{"a":01}`, want: ErrSyntax, offset: 6},
		{name: "bare minus", in: `{"a":-}`, want: ErrSyntax, offset: 6},
		{name: "dot without digits", in: `{"a":1.}`, want: ErrSyntax, offset: 7},
		{name: "exponent without digits", in: `{"a":1e}`, want: ErrSyntax, offset: 7},
		{name: "plus sign", in: `{"a":+1}`, want: ErrSyntax, offset: 5},
		{name: "NaN", in: `{"a":NaN}`, want: ErrSyntax, offset: 5},
		{name: "bad literal", in: `{"a":tru}`, want: ErrSyntax, offset: 8},
		{name: "literal prefix", in: `{"a":nullx}`, want: ErrSyntax, offset: 9},
		{name: "control char", in: "{\"a\":\"x\ty\"}", want: ErrSyntax, offset: 7},
		{name: "NUL in string", in: "{\"a\":\"\x00\"}", want: ErrSyntax, offset: 6},
		{name: "bad escape", in: `{"a":"\x"}`, want: ErrSyntax, offset: 7},
		{name: "short unicode escape", in: `{"a":"\u12"}`, want: ErrSyntax, offset: 8},
		{name: "bad unicode escape", in: `{"a":"\u12g4"}`, want: ErrSyntax, offset: 8},
		{name: "invalid utf-8", in: "{\"a\":\"\xff\"}", want: ErrSyntax, offset: 6},
		{name: "invalid utf-8 in key", in: "{\"\xc3\":1}", want: ErrSyntax, offset: 2},
		{name: "surrogate encoded as utf-8", in: "{\"a\":\"\xed\xa0\x80\"}", want: ErrSyntax, offset: 6},
		{name: "mismatched brackets", in: `{"a":[1}`, want: ErrSyntax, offset: 7},
		{name: "mismatched braces", in: `{"a":{]}`, want: ErrSyntax, offset: 6},
		{name: "comment", in: `{/* x */}`, want: ErrSyntax, offset: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate([]byte(tc.in), tc.lim)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate(%.60q) = %v, want nil", tc.in, err)
				}
				if !json.Valid([]byte(tc.in)) {
					t.Fatalf("accepted %.60q, which encoding/json refuses", tc.in)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate(%.60q) = %v (%T), want an *Error", tc.in, err, err)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate(%.60q) = %v, want %v", tc.in, err, tc.want)
			}
			if e.Offset != tc.offset || e.Key != tc.key {
				t.Fatalf("Validate(%.60q) = %v: offset %d key %q, want offset %d key %q", tc.in, err, e.Offset, e.Key, tc.offset, tc.key)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1,"b":{"__proto__":1}}`: `params: forbidden key "__proto__" at offset 12`,
		``:                            `params: not a JSON object at offset 0: empty`,
		`[]`:                          `params: not a JSON object at offset 0: starts with '['`,
		`{"a":tru}`:                   `params: invalid JSON at offset 8: unexpected '}', want "true"`,
		`{"a":1`:                      `params: invalid JSON at offset 6: unexpected end of input, want ',' or '}'`,
		`{"a":[[[]]]}`:                `params: nested too deeply at offset 6: deeper than 2`,
	} {
		err := Validate([]byte(in), Limits{MaxDepth: 2})
		if err == nil || err.Error() != want {
			t.Errorf("Validate(%q) = %v, want %s", in, err, want)
		}
	}
	err := Validate(make([]byte, 11), Limits{MaxBytes: 10})
	if want := "params: too large: 11 bytes, over the limit of 10"; err == nil || err.Error() != want {
		t.Errorf("too large: %v, want %s", err, want)
	}
}

func TestZeroAllocs(t *testing.T) {
	in := []byte(`{"width":128,"height":128,"format":"webp","quality":0.8,"tags":["a","b"],"k\u0065y":{"x":[1,2,{"y":null}]}}`)
	if n := testing.AllocsPerRun(100, func() {
		if err := Validate(in, Limits{}); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocs per Validate, want 0", n)
	}
}

func BenchmarkValidate(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"empty", `{}`},
		{"small", `{"width":128,"height":128,"format":"webp","quality":80}`},
		{"nested", `{"a":{"b":{"c":[1,2,3,{"d":"e"}]}},"list":[true,false,null,-1.5e3]}`},
		{"64KiB", `{"blob":"` + strings.Repeat("abcdefgh", 8<<10) + `"}`},
	} {
		in := []byte(bc.in)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Validate(in, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/encoding-json-Valid", func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if !json.Valid(in) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
