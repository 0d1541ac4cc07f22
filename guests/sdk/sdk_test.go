package sdk_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/inos-node/node/guests/abi"
	"github.com/inos-node/node/guests/sdk"
)

type resize struct {
	Width  int     `json:"width"`
	Filter string  `json:"filter"`
	Sigma  float64 `json:"sigma"`
}

func TestDecodeParamsIsStrict(t *testing.T) {
	cases := []struct {
		params string
		err    string // "" for success
	}{
		{`{}`, ""},
		{``, ""},
		{`{"width":640,"filter":"lanczos3","sigma":1.5}`, ""},
		{`{"width":640,"height":480}`, `unknown field "height"`},
		{`{"width":"640"}`, "width: got a JSON string, want int"},
		{`{"width":1.5}`, "width: got a JSON number 1.5, want int"},
		{`{"filter":3}`, "filter: got a JSON number, want string"},
		{`[1,2]`, "got a JSON array, want sdk_test.resize"},
		{`{"width":1} {"width":2}`, "trailing data"},
		{`{"width":`, "unexpected EOF"},
	}
	for _, tc := range cases {
		var p resize
		err := sdk.DecodeParams([]byte(tc.params), &p)
		var pe *sdk.ParamsError
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.params, err)
		case tc.err != "" && (!errors.As(err, &pe) || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %v, want a *ParamsError containing %q", tc.params, err, tc.err)
		}
	}
}

func TestDispatch(t *testing.T) {
	ms := sdk.Methods{
		"ok":    func(c *sdk.Call) (int, error) { return copy(c.Output, "hi"), nil },
		"big":   func(c *sdk.Call) (int, error) { return 0, c.NeedOutput(100) },
		"fail":  func(c *sdk.Call) (int, error) { return 0, errors.New("no luck") },
		"bad":   func(c *sdk.Call) (int, error) { return 0, fmt.Errorf("decode: %w", &sdk.InputError{Msg: "truncated"}) },
		"panic": func(c *sdk.Call) (int, error) { panic("oops") },
		"liar":  func(c *sdk.Call) (int, error) { return len(c.Output) + 1, nil },
		"typed": sdk.Typed(func(c *sdk.Call, p *resize) (int, error) { return p.Width, nil }),
	}
	cases := []struct {
		method, params string
		status         int32
		n              int
		msg            string
	}{
		{"ok", "", abi.StatusOK, 2, ""},
		{"big", "", abi.StatusOutputTooSmall, 100, "output needs 100 bytes, 8 reserved"},
		{"fail", "", abi.StatusFailed, 0, "no luck"},
		{"bad", "", abi.StatusBadInput, 0, "input: truncated"},
		{"panic", "", abi.StatusFailed, 0, `method "panic" panicked: oops`},
		{"liar", "", abi.StatusFailed, 0, "returned output length 9, capacity is 8"},
		{"typed", `{"width":5}`, abi.StatusOK, 5, ""},
		{"typed", `{"width":true}`, abi.StatusBadParams, 0, "width: got a JSON bool, want int"},
		{"nope", "", abi.StatusUnknownMethod, 0, `no method "nope" (methods: bad, big, fail, liar, ok, panic, typed)`},
	}
	for _, tc := range cases {
		c := &sdk.Call{Method: tc.method, Params: []byte(tc.params), Output: make([]byte, 8)}
		status, n, msg := ms.Dispatch(c)
		if status != tc.status || n != tc.n || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: got (%d, %d, %q), want (%d, %d, %q)", tc.method, status, n, msg, tc.status, tc.n, tc.msg)
		}
	}
}

// A method with typed params: unknown fields and wrong types are refused
// with a message naming the field.
func ExampleTyped() {
	type params struct {
		Key uint8 `json:"key"`
	}
	xor := sdk.Typed(func(c *sdk.Call, p *params) (int, error) {
		if err := c.NeedOutput(len(c.Input)); err != nil {
			return 0, err
		}
		for i, b := range c.Input {
			c.Output[i] = b ^ p.Key
		}
		return len(c.Input), nil
	})
	ms := sdk.Methods{"xor": xor}
	for _, params := range []string{`{"key":1}`, `{"key":300}`, `{"kye":1}`} {
		c := &sdk.Call{Method: "xor", Params: []byte(params), Input: []byte("abc"), Output: make([]byte, 3)}
		status, n, msg := ms.Dispatch(c)
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%s: status %d, %q %s", params, status, c.Output[:n], msg)))
	}
	// Output:
	// {"key":1}: status 0, "`cb"
	// {"key":300}: status 1, "" params: key: got a JSON number 300, want uint8
	// {"kye":1}: status 1, "" params: unknown field "kye"
}

func TestOutputWriter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cap    int
		writes []string
		want   string
		need   int // 0: fits
	}{
		{"empty", 4, nil, "", 0},
		{"fits exactly", 6, []string{"abc", "def"}, "abcdef", 0},
		{"overflows in a write", 4, []string{"abc", "def"}, "", 6},
		{"overflows after full", 3, []string{"abc", "d", "ef"}, "", 6},
		{"no output at all", 0, []string{"x"}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &sdk.Call{Output: make([]byte, tc.cap)}
			w := c.OutputWriter()
			for _, s := range tc.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			n, err := w.Result()
			if tc.need == 0 {
				if err != nil || string(c.Output[:n]) != tc.want {
					t.Fatalf("Result = %d, %v (output %q), want %q", n, err, c.Output[:n], tc.want)
				}
				return
			}
			var oe *sdk.OutputTooSmallError
			if !errors.As(err, &oe) || oe.Need != tc.need || oe.Have != tc.cap {
				t.Fatalf("Result error = %v, want need %d have %d", err, tc.need, tc.cap)
			}
		})
	}
}
