package fuel

import "fmt"

// reader decodes one byte range of the input module. base is the absolute
// offset of b[0] in the module, so that errors point into the caller's input.
type reader struct {
	b    []byte
	pos  int
	base int
}

func (r *reader) off() int { return r.base + r.pos }

func (r *reader) malformed(format string, args ...any) error {
	return &FormatError{Offset: r.off(), Reason: fmt.Sprintf(format, args...)}
}

func (r *reader) unsupported(at int, format string, args ...any) error {
	return &UnsupportedError{Offset: r.base + at, What: fmt.Sprintf(format, args...)}
}

func (r *reader) eof() bool { return r.pos >= len(r.b) }

func (r *reader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, r.malformed("unexpected end")
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

func (r *reader) skip(n int) error {
	if n < 0 || len(r.b)-r.pos < n {
		return r.malformed("unexpected end")
	}
	r.pos += n
	return nil
}

// bytes returns the next n bytes (aliasing the input).
func (r *reader) bytes(n uint32) ([]byte, error) {
	if uint64(len(r.b)-r.pos) < uint64(n) {
		return nil, r.malformed("length %d past the end", n)
	}
	s := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s, nil
}

// u32 decodes an unsigned LEB128 of at most 5 bytes. Non-minimal encodings are
// legal; bits beyond 32 in the last byte are not.
func (r *reader) u32() (uint32, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 4 && c&0xF0 != 0 {
			return 0, r.malformed("u32 LEB128 too long or too large")
		}
		v |= uint32(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			break
		}
	}
	return v, nil
}

// u64 decodes an unsigned LEB128 of at most 10 bytes.
func (r *reader) u64() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 9 && c&0xFE != 0 {
			return 0, r.malformed("u64 LEB128 too long or too large")
		}
		v |= uint64(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			break
		}
	}
	return v, nil
}

// sN decodes a signed LEB128 of an n-bit integer (32, 33 or 64): at most
// ceil(n/7) bytes, and the unused bits of the last byte must extend the sign.
func (r *reader) sN(n int) (int64, error) {
	maxBytes := (n + 6) / 7
	var v int64
	for i := 0; i < maxBytes; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		shift := 7 * i
		if i == maxBytes-1 {
			used := n - shift // value bits held by this byte, the top one the sign
			mask := byte(0x7F) &^ (byte(1)<<(used-1) - 1)
			if c&0x80 != 0 || (c&mask != 0 && c&mask != mask) {
				return 0, r.malformed("s%d LEB128 too long or too large", n)
			}
		}
		v |= int64(c&0x7F) << shift
		if c&0x80 == 0 {
			if shift+7 < 64 && c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			break
		}
	}
	return v, nil
}

// name decodes a length-prefixed byte string (not checked for UTF-8: names
// are copied through, the engine validates them).
func (r *reader) name() ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	return r.bytes(n)
}

func appendU32(dst []byte, v uint32) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func appendS64(dst []byte, v int64) []byte {
	for {
		c := byte(v & 0x7F)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(dst, c)
		}
		dst = append(dst, c|0x80)
	}
}

func appendName(dst []byte, s string) []byte {
	dst = appendU32(dst, uint32(len(s)))
	return append(dst, s...)
}
