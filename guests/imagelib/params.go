package imagelib

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/inos-node/node/guests/sdk"
)

// A method's params are the encoder's (format, quality) and its
// transform's; a batch operation's are "op" and its transform's. Both are
// decoded from one JSON object through a table of fields rather than a
// struct, so that the same transform fields serve both and an unknown key
// is reported with the list of the fields that are allowed where it was.

// field binds a JSON key to the variable its value decodes into: an *int,
// *float64, *string, *bool, *[]json.RawMessage or *map[string]json.RawMessage
// (an object, whose own fields are decoded by a second table: raw's). seen, if set, records
// that the key was present (for fields whose zero value is not their
// default).
type field struct {
	name string
	dst  any
	seen *bool
}

// paramError is a refused param. field is its path ("sigma",
// "operations[2].sigma"), empty for the params as a whole.
type paramError struct {
	field, msg string
}

func (e *paramError) Error() string {
	if e.field == "" {
		return e.msg
	}
	return e.field + ": " + e.msg
}

func paramErrorf(field, format string, args ...any) *paramError {
	return &paramError{field: field, msg: fmt.Sprintf(format, args...)}
}

// in prefixes the error's field with the path of the object it was found
// in (operations[2]).
func (e *paramError) in(path string) *paramError {
	if e.field == "" {
		return &paramError{field: path, msg: e.msg}
	}
	return &paramError{field: path + "." + e.field, msg: e.msg}
}

// toSDK turns a *paramError into the *sdk.ParamsError that fails the job
// with invalidParams; other errors pass through.
func toSDK(err error) error {
	if pe, ok := err.(*paramError); ok {
		return &sdk.ParamsError{Msg: pe.Error()}
	}
	return err
}

// parseObject splits params (a JSON object; empty means {}) into its keys.
func parseObject(params []byte) (map[string]json.RawMessage, *paramError) {
	params = bytes.TrimSpace(params)
	if len(params) == 0 {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if params[0] != '{' || json.Unmarshal(params, &obj) != nil {
		return nil, paramErrorf("", "must be a JSON object")
	}
	return obj, nil
}

// decodeFields decodes every key of obj into its field of fs. A key that
// is not in fs, or a value that does not have its field's type, is a
// *paramError naming the key. Keys are visited in sorted order so that the
// error for params with several bad keys is always the same one.
func decodeFields(obj map[string]json.RawMessage, fs []field) *paramError {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		i := slices.IndexFunc(fs, func(f field) bool { return f.name == k })
		if i < 0 {
			names := make([]string, len(fs))
			for j, f := range fs {
				names[j] = f.name
			}
			if len(names) == 0 {
				return paramErrorf(k, "unknown field (this takes no params)")
			}
			return paramErrorf(k, "unknown field (fields: %s)", strings.Join(names, ", "))
		}
		raw := obj[k]
		// encoding/json leaves a variable unchanged for null; a null is
		// not a value of any of our types, so it is refused like one.
		if bytes.Equal(raw, []byte("null")) || json.Unmarshal(raw, fs[i].dst) != nil {
			return paramErrorf(k, "got %s, want %s", excerpt(raw), typeName(fs[i].dst))
		}
		if fs[i].seen != nil {
			*fs[i].seen = true
		}
	}
	return nil
}

func typeName(dst any) string {
	switch dst.(type) {
	case *int:
		return "an integer"
	case *float64:
		return "a number"
	case *string:
		return "a string"
	case *bool:
		return "true or false"
	case *[]json.RawMessage:
		return "a list"
	case *map[string]json.RawMessage:
		return "an object"
	}
	return fmt.Sprintf("%T", dst)
}

// excerpt quotes a JSON value for a message, cut short if it is long.
func excerpt(raw json.RawMessage) string {
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "…"
	}
	return string(raw)
}

// warmParams runs the JSON decoding paths once, so that their lazily built
// state (encoding/json's and reflect's caches) is made while the guest
// initializes and not charged to its first job: a job costs the same fuel on
// a fresh instance as on a warm one (as sdk.Typed does for its types).
func warmParams() {
	var (
		i int
		f float64
		s string
		b bool
		l []json.RawMessage
		m map[string]json.RawMessage
	)
	obj, _ := parseObject([]byte(`{"i":1,"f":1.5,"s":"x","b":true,"l":[{}],"m":{"i":1}}`))
	_ = decodeFields(obj, []field{{"i", &i, nil}, {"f", &f, nil}, {"s", &s, nil}, {"b", &b, nil}, {"l", &l, nil}, {"m", &m, nil}})
}
