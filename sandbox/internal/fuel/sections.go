package fuel

import "strings"

// elementSection rewrites function indices in all eight segment forms:
// index lists (flags 0-3) and expression lists (flags 4-7).
func (in *instrumenter) elementSection(r *reader) ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	p := appendU32(nil, n)
	for ; n > 0; n-- {
		at := r.pos
		flags, err := r.u32()
		if err != nil {
			return nil, err
		}
		if flags > 7 {
			r.pos = at
			return nil, r.malformed("element segment flags %d", flags)
		}
		p = append(p, r.b[at:r.pos]...)
		if flags&3 == 2 { // explicit table index
			start := r.pos
			if _, err := r.u32(); err != nil {
				return nil, err
			}
			p = append(p, r.b[start:r.pos]...)
		}
		if flags&1 == 0 { // active: offset expression
			if p, err = in.constExpr(r, p); err != nil {
				return nil, err
			}
		}
		if flags&3 != 0 { // element kind or reference type
			start := r.pos
			if flags&4 == 0 {
				if k, err := r.byte(); err != nil {
					return nil, err
				} else if k != 0 {
					r.pos--
					return nil, r.malformed("element kind %#02x", k)
				}
			} else if err := r.refType(); err != nil {
				return nil, err
			}
			p = append(p, r.b[start:r.pos]...)
		}
		m, err := r.u32()
		if err != nil {
			return nil, err
		}
		p = appendU32(p, m)
		for ; m > 0; m-- {
			if flags&4 != 0 {
				if p, err = in.constExpr(r, p); err != nil {
					return nil, err
				}
				continue
			}
			at := r.pos
			idx, err := r.u32()
			if err != nil {
				return nil, err
			}
			if p, err = in.appendFunc(r, at, p, idx); err != nil {
				return nil, err
			}
		}
	}
	return p, r.done()
}

// dataSection checks the shape of the data section, which is copied as it
// is: every segment's bytes must be there (wazero allocates a segment's
// declared size before reading it).
func (r *reader) dataSection() error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for ; n > 0; n-- {
		at := r.pos
		flags, err := r.u32()
		if err != nil {
			return err
		}
		switch flags {
		case 0:
		case 1:
		case 2:
			if _, err := r.u32(); err != nil {
				return err
			}
		default:
			r.pos = at
			return r.malformed("data segment flags %d", flags)
		}
		if flags != 1 {
			if err := r.skipExpr(); err != nil {
				return err
			}
		}
		if _, err := r.name(); err != nil { // vec(byte)
			return err
		}
	}
	return r.done()
}

// skipExpr consumes a constant expression up to its end.
func (r *reader) skipExpr() error {
	for {
		flags, _, err := r.instr()
		if err != nil {
			return err
		}
		if flags&(fEnd|fOpen) != 0 {
			if flags&fOpen != 0 {
				return r.malformed("block in a constant expression")
			}
			return nil
		}
	}
}

// codeSection instruments every body and recomputes its size.
func (in *instrumenter) codeSection(r *reader) ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	if n != in.funcs {
		return nil, r.malformed("%d function bodies for %d declared functions", n, in.funcs)
	}
	p := make([]byte, 0, len(r.b)+len(r.b)/4+64)
	p = appendU32(p, n)
	var body []byte
	for k := uint32(0); k < in.funcs; k++ {
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		if size >= 1<<31 { // insn offsets are int32
			return nil, r.unsupported(r.pos, "function body of %d bytes", size)
		}
		off := r.pos
		b, err := r.bytes(size)
		if err != nil {
			return nil, err
		}
		if body, err = in.body(body[:0], &reader{b: b, base: r.base + off}, in.funcParams[k]); err != nil {
			return nil, err
		}
		p = appendU32(p, uint32(len(body)))
		p = append(p, body...)
	}
	return p, r.done()
}

// customSection copies a custom section, except:
//   - "name" is rewritten for the shifted function indices, or dropped if it
//     does not decode (engines ignore a bad name section, so dropping it
//     loses nothing but debug names);
//   - ".debug_*" (DWARF), "linking" and "reloc.*" (linker metadata of object
//     files) are dropped: their function indices and code offsets no longer
//     hold.
func (in *instrumenter) customSection(out []byte, r *reader) ([]byte, error) {
	name, err := r.name()
	if err != nil {
		return nil, err
	}
	payload := r.b
	switch n := string(name); {
	case n == "name":
		rewritten, ok := in.nameSection(&reader{b: r.b[r.pos:], base: r.base + r.pos})
		if !ok {
			return out, nil
		}
		payload = append(appendName(nil, n), rewritten...)
	case strings.HasPrefix(n, ".debug_") || n == "linking" || strings.HasPrefix(n, "reloc."):
		return out, nil
	}
	out = append(out, secCustom)
	out = appendU32(out, uint32(len(payload)))
	return append(out, payload...), nil
}

// nameSection rewrites the name section's subsections keyed by function
// index (1 function names, 2 local names, 3 label names), shifting indices
// and naming the hook; other subsections are copied. ok is false when the
// section does not decode.
func (in *instrumenter) nameSection(r *reader) (p []byte, ok bool) {
	for !r.eof() {
		id, err := r.byte()
		if err != nil {
			return nil, false
		}
		size, err := r.u32()
		if err != nil {
			return nil, false
		}
		b, err := r.bytes(size)
		if err != nil {
			return nil, false
		}
		sub := b
		if id >= 1 && id <= 3 {
			if sub, ok = in.nameMap(&reader{b: b}, id == 1); !ok {
				return nil, false
			}
		}
		p = append(p, id)
		p = appendU32(p, uint32(len(sub)))
		p = append(p, sub...)
	}
	return p, true
}

// nameMap rewrites a map from function index to a name (direct) or to a
// nested name map, which is copied.
func (in *instrumenter) nameMap(r *reader, direct bool) ([]byte, bool) {
	n, err := r.u32()
	if err != nil {
		return nil, false
	}
	extra := uint32(0)
	if direct {
		extra = 1
	}
	p := appendU32(nil, n+extra)
	for ; n > 0; n-- {
		idx, err := r.u32()
		if err != nil {
			return nil, false
		}
		if direct && idx >= in.hook && extra == 1 {
			p = appendU32(p, in.hook)
			p = appendName(p, in.o.ImportModule+"."+in.o.ImportName)
			extra = 0
		}
		if idx >= in.hook {
			if idx == ^uint32(0) {
				return nil, false
			}
			idx++
		}
		p = appendU32(p, idx)
		start := r.pos
		if direct {
			if _, err := r.name(); err != nil {
				return nil, false
			}
		} else {
			m, err := r.u32()
			if err != nil {
				return nil, false
			}
			for ; m > 0; m-- {
				if _, err := r.u32(); err != nil {
					return nil, false
				}
				if _, err := r.name(); err != nil {
					return nil, false
				}
			}
		}
		p = append(p, r.b[start:r.pos]...)
	}
	if extra == 1 {
		p = appendU32(p, in.hook)
		p = appendName(p, in.o.ImportModule+"."+in.o.ImportName)
	}
	return p, r.eof()
}
