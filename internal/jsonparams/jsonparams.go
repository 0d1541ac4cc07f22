// Package jsonparams validates the JSON params of a job before any library
// sees them.
//
// Params must be one JSON object, at most Limits.MaxBytes long and nested at
// most Limits.MaxDepth deep, and no object anywhere in it may have the key
// "__proto__" or "constructor" (compared after unescaping, so
// "\u005f_proto__" is refused too): libraries may hand params to JavaScript
// guests, where such keys can pollute prototypes.
//
// The check is a single pass of a hand-written scanner with no allocation,
// because it runs on every job: "{}" takes a few nanoseconds. It accepts
// exactly the texts encoding/json accepts, minus those above, and minus
// invalid UTF-8, which encoding/json lets through (replacing it when
// decoding) but which different decoders in libraries would treat
// differently.
package jsonparams

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Limits bound the params. A zero field means its default.
type Limits struct {
	MaxBytes int // default 1 MiB
	MaxDepth int // nesting of objects and arrays; the top-level object is depth 1; default 64
}

const (
	defaultMaxBytes = 1 << 20
	defaultMaxDepth = 64
)

// Errors that Validate's *Error wraps, for errors.Is.
var (
	ErrTooLarge     = errors.New("params: too large")
	ErrNotObject    = errors.New("params: not a JSON object")
	ErrSyntax       = errors.New("params: invalid JSON")
	ErrForbiddenKey = errors.New("params: forbidden key")
	ErrTooDeep      = errors.New("params: nested too deeply")
)

// Error is what Validate returns.
type Error struct {
	Offset int64  // byte offset of the problem in the params
	Key    string // the forbidden key (unescaped), for ErrForbiddenKey
	Err    error  // one of the Err* sentinels
	detail string
}

func (e *Error) Error() string {
	switch e.Err {
	case ErrForbiddenKey:
		return fmt.Sprintf("params: forbidden key %q at offset %d", e.Key, e.Offset)
	case ErrTooLarge:
		return e.Err.Error() + ": " + e.detail
	}
	s := fmt.Sprintf("%v at offset %d", e.Err, e.Offset)
	if e.detail != "" {
		s += ": " + e.detail
	}
	return s
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// Validate reports whether b is acceptable params under lim; see the package
// documentation for the rules. The error, if any, is an *Error.
func Validate(b []byte, lim Limits) error {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = defaultMaxBytes
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = defaultMaxDepth
	}
	if len(b) > lim.MaxBytes {
		return &Error{Offset: int64(lim.MaxBytes), Err: ErrTooLarge,
			detail: fmt.Sprintf("%d bytes, over the limit of %d", len(b), lim.MaxBytes)}
	}
	s := scanner{b: b, maxDepth: lim.MaxDepth}
	return s.run()
}

// scanner is an iterative JSON validator: the container nesting is a bit
// stack (1 = object), so hostile nesting costs no recursion.
type scanner struct {
	b        []byte
	pos      int
	maxDepth int
	depth    int
	inline   [2]uint64 // bit stack for the first 128 levels
	more     []uint64  // beyond that (only with MaxDepth > 128)
}

func (s *scanner) fail(err error, detail string) error {
	return &Error{Offset: int64(s.pos), Err: err, detail: detail}
}

func (s *scanner) syntax(detail string) error { return s.fail(ErrSyntax, detail) }

func (s *scanner) unexpected(what string) error {
	if s.pos >= len(s.b) {
		return s.syntax("unexpected end of input, want " + what)
	}
	return s.syntax(fmt.Sprintf("unexpected %q, want %s", s.b[s.pos], what))
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// push enters a container; isObject records its kind.
func (s *scanner) push(isObject bool) error {
	if s.depth >= s.maxDepth {
		return s.fail(ErrTooDeep, fmt.Sprintf("deeper than %d", s.maxDepth))
	}
	d := s.depth
	s.depth++
	var w *uint64
	if d < 128 {
		w = &s.inline[d/64]
	} else {
		for len(s.more) <= (d-128)/64 {
			s.more = append(s.more, 0)
		}
		w = &s.more[(d-128)/64]
	}
	if isObject {
		*w |= 1 << (d % 64)
	} else {
		*w &^= 1 << (d % 64)
	}
	return nil
}

// inObject reports whether the innermost open container is an object.
func (s *scanner) inObject() bool {
	d := s.depth - 1
	if d < 128 {
		return s.inline[d/64]&(1<<(d%64)) != 0
	}
	return s.more[(d-128)/64]&(1<<(d%64)) != 0
}

func (s *scanner) run() error {
	s.skipSpace()
	if s.pos >= len(s.b) {
		return s.fail(ErrNotObject, "empty")
	}
	if s.b[s.pos] != '{' {
		return s.fail(ErrNotObject, fmt.Sprintf("starts with %q", s.b[s.pos]))
	}
	// The loop alternates between reading a value (or a key) and reading
	// what follows it in its container.
	for {
		// A value.
		s.skipSpace()
		if s.pos >= len(s.b) {
			return s.unexpected("a value")
		}
		switch c := s.b[s.pos]; {
		case c == '{':
			if err := s.push(true); err != nil {
				return err
			}
			s.pos++
			s.skipSpace()
			if s.pos < len(s.b) && s.b[s.pos] == '}' {
				s.pos++
				s.depth--
				break
			}
			if err := s.key(); err != nil {
				return err
			}
			continue // the member's value
		case c == '[':
			if err := s.push(false); err != nil {
				return err
			}
			s.pos++
			s.skipSpace()
			if s.pos < len(s.b) && s.b[s.pos] == ']' {
				s.pos++
				s.depth--
				break
			}
			continue // the first element
		case c == '"':
			if _, err := s.str(false); err != nil {
				return err
			}
		case c == '-' || ('0' <= c && c <= '9'):
			if err := s.number(); err != nil {
				return err
			}
		case c == 't':
			if err := s.literal("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := s.literal("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := s.literal("null"); err != nil {
				return err
			}
		default:
			return s.unexpected("a value")
		}

		// After a value: close containers, or find the next member.
		for {
			s.skipSpace()
			if s.depth == 0 {
				if s.pos < len(s.b) {
					return s.unexpected("end of input after the object")
				}
				return nil
			}
			inObject := s.inObject()
			if s.pos >= len(s.b) {
				if inObject {
					return s.unexpected("',' or '}'")
				}
				return s.unexpected("',' or ']'")
			}
			c := s.b[s.pos]
			if inObject {
				switch c {
				case ',':
					s.pos++
					s.skipSpace()
					if err := s.key(); err != nil {
						return err
					}
				case '}':
					s.pos++
					s.depth--
					continue
				default:
					return s.unexpected("',' or '}'")
				}
			} else {
				switch c {
				case ',':
					s.pos++
				case ']':
					s.pos++
					s.depth--
					continue
				default:
					return s.unexpected("',' or ']'")
				}
			}
			break
		}
	}
}

// key reads an object key and the colon after it, and refuses the
// forbidden keys.
func (s *scanner) key() error {
	if s.pos >= len(s.b) || s.b[s.pos] != '"' {
		return s.unexpected("a string key")
	}
	start := s.pos
	forbidden, err := s.str(true)
	if err != nil {
		return err
	}
	if forbidden != "" {
		return &Error{Offset: int64(start), Key: forbidden, Err: ErrForbiddenKey}
	}
	s.skipSpace()
	if s.pos >= len(s.b) || s.b[s.pos] != ':' {
		return s.unexpected("':' after an object key")
	}
	s.pos++
	return nil
}

// The keys that pollute JavaScript prototypes.
const (
	protoKey       = "__proto__"
	constructorKey = "constructor"
	maxForbidden   = len(constructorKey)
)

// str reads a string starting at the opening quote. When isKey, it returns
// the key if it is a forbidden one.
func (s *scanner) str(isKey bool) (forbidden string, err error) {
	s.pos++ // opening quote
	start := s.pos
	// The unescaped key, as far as it can still match a forbidden key;
	// n = -1 once it cannot.
	var buf [maxForbidden]byte
	n := 0
	escaped := false
	for {
		if !isKey {
			// Plain ASCII needs no bookkeeping in values.
			for s.pos < len(s.b) {
				if c := s.b[s.pos]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
					break
				}
				s.pos++
			}
		}
		if s.pos >= len(s.b) {
			return "", s.syntax("unterminated string")
		}
		c := s.b[s.pos]
		switch {
		case c == '"':
			end := s.pos
			s.pos++
			if !isKey {
				return "", nil
			}
			var k []byte
			if escaped {
				if n < 0 {
					return "", nil
				}
				k = buf[:n]
			} else {
				k = s.b[start:end]
			}
			if string(k) == protoKey {
				return protoKey, nil
			}
			if string(k) == constructorKey {
				return constructorKey, nil
			}
			return "", nil
		case c == '\\':
			escaped = true
			if s.pos+1 >= len(s.b) {
				return "", s.syntax("unterminated escape")
			}
			var r rune
			switch e := s.b[s.pos+1]; e {
			case '"', '\\', '/':
				r = rune(e)
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			case 'u':
				if s.pos+6 > len(s.b) {
					s.pos += 2
					return "", s.syntax("short \\u escape")
				}
				for _, h := range s.b[s.pos+2 : s.pos+6] {
					var v byte
					switch {
					case '0' <= h && h <= '9':
						v = h - '0'
					case 'a' <= h && h <= 'f':
						v = h - 'a' + 10
					case 'A' <= h && h <= 'F':
						v = h - 'A' + 10
					default:
						s.pos += 2
						return "", s.syntax("invalid \\u escape")
					}
					r = r<<4 | rune(v)
				}
				s.pos += 4
			default:
				s.pos++
				return "", s.syntax(fmt.Sprintf("invalid escape %q", e))
			}
			s.pos += 2
			if n >= 0 && n < maxForbidden && r < utf8.RuneSelf {
				buf[n] = byte(r)
				n++
			} else {
				n = -1 // forbidden keys are short and ASCII
			}
		case c < 0x20:
			return "", s.syntax("control character in string")
		case c < utf8.RuneSelf:
			s.pos++
			if !isKey {
				continue
			}
			if n >= 0 && n < maxForbidden {
				buf[n] = c
				n++
			} else {
				n = -1
			}
		default:
			r, size := utf8.DecodeRune(s.b[s.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", s.syntax("invalid UTF-8")
			}
			s.pos += size
			n = -1
		}
	}
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	b := s.b
	if b[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(b) && b[s.pos] == '0':
		s.pos++
	case s.pos < len(b) && '1' <= b[s.pos] && b[s.pos] <= '9':
		s.digits()
	default:
		return s.unexpected("a digit")
	}
	if s.pos < len(b) && b[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return s.unexpected("a digit after the decimal point")
		}
	}
	if s.pos < len(b) && (b[s.pos] == 'e' || b[s.pos] == 'E') {
		s.pos++
		if s.pos < len(b) && (b[s.pos] == '+' || b[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return s.unexpected("a digit in the exponent")
		}
	}
	return nil
}

func (s *scanner) digits() int {
	start := s.pos
	for s.pos < len(s.b) && '0' <= s.b[s.pos] && s.b[s.pos] <= '9' {
		s.pos++
	}
	return s.pos - start
}

func (s *scanner) literal(want string) error {
	for i := 0; i < len(want); i++ {
		if s.pos >= len(s.b) || s.b[s.pos] != want[i] {
			return s.unexpected(fmt.Sprintf("%q", want))
		}
		s.pos++
	}
	return nil
}
