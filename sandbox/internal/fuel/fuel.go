package fuel

import (
	"fmt"
	"unicode/utf8"
)

// Options names the two things Instrument adds to a module. The zero value
// selects the defaults.
type Options struct {
	// ImportModule and ImportName name the hook: an imported function of
	// type () -> () that the module calls when the counter goes negative.
	// Defaults: "inos" and "fuel_exhausted".
	ImportModule string
	ImportName   string
	// GlobalExport is the export name of the counter, a mutable i64 global
	// with initial value 0. Default: "inos_fuel".
	GlobalExport string
}

func (o Options) withDefaults() (Options, error) {
	if o.ImportModule == "" {
		o.ImportModule = "inos"
	}
	if o.ImportName == "" {
		o.ImportName = "fuel_exhausted"
	}
	if o.GlobalExport == "" {
		o.GlobalExport = "inos_fuel"
	}
	for _, s := range []string{o.ImportModule, o.ImportName, o.GlobalExport} {
		if !utf8.ValidString(s) {
			return o, fmt.Errorf("fuel: option %q is not valid UTF-8", s)
		}
	}
	return o, nil
}

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// rank is the position a non-custom section must take in a module, 0 for
// an unknown id.
func rank(id byte) int {
	switch id {
	case secType, secImport, secFunction, secTable, secMemory:
		return int(id)
	case secTag:
		return 6
	case secGlobal, secExport, secStart, secElement:
		return int(id) + 1
	case secDataCount:
		return 11
	case secCode, secData:
		return int(id) + 2
	}
	return 0
}

type section struct {
	id      byte
	payload []byte
	off     int // offset of payload in the input
}

// instrumenter holds what one Instrument call learns about its module.
type instrumenter struct {
	o Options

	types         uint32 // entries of the type section
	funcImports   uint32 // functions imported: the hook's index
	globalImports uint32
	globals       uint32   // globals defined
	funcs         uint32   // function section entries
	hook          uint32   // function index of the hook
	hookType      uint32   // its type index
	addType       bool     // the module has no () -> () type yet
	fuelGlobal    uint32   // global index of the counter
	typeParams    []uint32 // parameter count of each type
	funcParams    []uint32 // parameter count of each defined function

	insns []insn // scratch for body, reused across functions
	wraps []wrap // scratch for planDispatch
	sites []int  // scratch for planDispatch
}

// header is the magic number and version 1.
const header = "\x00asm\x01\x00\x00\x00"

// Instrument returns a copy of the binary module wasm with fuel metering
// added as described in the package documentation. It never modifies wasm.
// Errors match ErrMalformed (a *FormatError) or ErrUnsupported (an
// *UnsupportedError), except for invalid Options.
func Instrument(wasm []byte, o Options) ([]byte, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	in := &instrumenter{o: o}
	secs, err := split(wasm)
	if err != nil {
		return nil, err
	}
	have := map[byte]*section{} // the non-custom sections by id
	for i := range secs {
		if secs[i].id != secCustom {
			have[secs[i].id] = &secs[i]
		}
	}
	if err := in.scan(have); err != nil {
		return nil, err
	}

	out := make([]byte, 0, len(wasm)+len(wasm)/4+256)
	out = append(out, header...)
	// New sections go where their rank says: before the first present
	// section of a higher rank.
	missing := []byte{secType, secImport, secGlobal, secExport}
	emitMissing := func(upTo int) error {
		for len(missing) > 0 && rank(missing[0]) < upTo {
			id := missing[0]
			missing = missing[1:]
			if have[id] != nil {
				continue
			}
			var err error
			if out, err = in.section(out, section{id: id}); err != nil {
				return err
			}
		}
		return nil
	}
	for _, s := range secs {
		if s.id != secCustom {
			if err := emitMissing(rank(s.id)); err != nil {
				return nil, err
			}
		}
		if out, err = in.section(out, s); err != nil {
			return nil, err
		}
	}
	if err := emitMissing(rank(secData) + 1); err != nil {
		return nil, err
	}
	return out, nil
}

// split checks the header and cuts the module into sections, checking that
// non-custom sections appear at most once and in order.
func split(wasm []byte) ([]section, error) {
	if len(wasm) < 8 || string(wasm[:4]) != header[:4] {
		return nil, &FormatError{Offset: 0, Reason: "not a wasm binary (magic)"}
	}
	if string(wasm[4:8]) != header[4:8] {
		return nil, &FormatError{Offset: 4, Reason: "unknown binary version"}
	}
	r := &reader{b: wasm, pos: 8}
	var secs []section
	last := 0
	for !r.eof() {
		at := r.pos
		id, _ := r.byte()
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		off := r.pos
		payload, err := r.bytes(n)
		if err != nil {
			return nil, err
		}
		if id == secTag {
			return nil, &UnsupportedError{Offset: at, What: "tag section (exception handling)"}
		}
		if id != secCustom {
			if rank(id) == 0 {
				return nil, &FormatError{Offset: at, Reason: fmt.Sprintf("unknown section id %d", id)}
			}
			if rank(id) <= last {
				return nil, &FormatError{Offset: at, Reason: fmt.Sprintf("section %d duplicated or out of order", id)}
			}
			last = rank(id)
		}
		secs = append(secs, section{id: id, payload: payload, off: off})
	}
	return secs, nil
}

// scan reads the sections whose contents decide the new indices before any
// is written: types (for a () -> () type), imports (the hook's function
// index, the imported globals), functions (how many bodies to expect) and
// globals (the counter's index).
func (in *instrumenter) scan(have map[byte]*section) error {
	in.addType = true
	if s := have[secType]; s != nil {
		r := s.reader()
		n, err := r.u32()
		if err != nil {
			return err
		}
		for i := uint32(0); i < n; i++ {
			at := r.pos
			form, err := r.byte()
			if err != nil {
				return err
			}
			if form != 0x60 {
				return r.unsupported(at, "type form %#02x (GC)", form)
			}
			empty := true
			for k := 0; k < 2; k++ {
				m, err := r.u32()
				if err != nil {
					return err
				}
				if k == 0 {
					in.typeParams = append(in.typeParams, m)
				}
				empty = empty && m == 0
				for ; m > 0; m-- {
					if err := r.valType(); err != nil {
						return err
					}
				}
			}
			if empty && in.addType {
				in.hookType, in.addType = i, false
			}
		}
		if err := r.done(); err != nil {
			return err
		}
		if in.addType {
			in.hookType = n
		}
		in.types = n
	}
	if s := have[secImport]; s != nil {
		if err := in.scanImports(s.reader()); err != nil {
			return err
		}
	}
	in.hook = in.funcImports
	if s := have[secFunction]; s != nil {
		r := s.reader()
		n, err := r.u32()
		if err != nil {
			return err
		}
		for i := n; i > 0; i-- {
			t, err := r.typeIdx(in.types)
			if err != nil {
				return err
			}
			in.funcParams = append(in.funcParams, in.typeParams[t])
		}
		if err := r.done(); err != nil {
			return err
		}
		in.funcs = n
	}
	if s := have[secGlobal]; s != nil {
		r := s.reader()
		n, err := r.u32()
		if err != nil {
			return err
		}
		in.globals = n
	}
	// Room for one more function and global index (only a module of
	// billions of entries could lack it).
	in.fuelGlobal = in.globalImports + in.globals
	if in.fuelGlobal < in.globals || in.fuelGlobal == ^uint32(0) || in.funcImports == ^uint32(0) {
		return &FormatError{Offset: 8, Reason: "too many functions or globals"}
	}
	return nil
}

func (in *instrumenter) scanImports(r *reader) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for ; n > 0; n-- {
		if _, err := r.name(); err != nil {
			return err
		}
		if _, err := r.name(); err != nil {
			return err
		}
		at := r.pos
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0x00:
			_, err = r.typeIdx(in.types)
			in.funcImports++
		case 0x01:
			if err = r.refType(); err == nil {
				err = r.limits()
			}
		case 0x02:
			err = r.limits()
		case 0x03:
			if err = r.valType(); err == nil {
				err = r.mutability()
			}
			in.globalImports++
		case 0x04:
			return r.unsupported(at, "tag import (exception handling)")
		default:
			r.pos = at
			return r.malformed("import kind %#02x", kind)
		}
		if err != nil {
			return err
		}
	}
	return r.done()
}

// typeIdx consumes a function's type index and checks its range: wazero
// (v1.12) panics, rather than fail, on a function whose type is missing.
func (r *reader) typeIdx(types uint32) (uint32, error) {
	at := r.pos
	t, err := r.u32()
	if err == nil && t >= types {
		r.pos = at
		err = r.malformed("type index %d out of range (%d types)", t, types)
	}
	return t, err
}

func (s section) reader() *reader { return &reader{b: s.payload, base: s.off} }

func (r *reader) done() error {
	if !r.eof() {
		return r.malformed("%d unread bytes at the end of the section", len(r.b)-r.pos)
	}
	return nil
}

// limits consumes table or memory limits: a flags byte (bit 0: a maximum
// follows, bit 1: shared, bit 2: 64-bit), the minimum and the maximum.
func (r *reader) limits() error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if flags > 7 {
		r.pos--
		return r.malformed("limits flags %#02x", flags)
	}
	for i := 0; i < 1+int(flags&1); i++ {
		if flags&4 != 0 {
			_, err = r.u64()
		} else {
			_, err = r.u32()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) mutability() error {
	m, err := r.byte()
	if err == nil && m > 1 {
		r.pos--
		err = r.malformed("global mutability %#02x", m)
	}
	return err
}

// section appends section s, rewritten, to out. A zero-payload s of a
// missing id creates that section with only the pass's additions.
func (in *instrumenter) section(out []byte, s section) ([]byte, error) {
	var p []byte
	var err error
	r := s.reader()
	switch s.id {
	case secType:
		p, err = in.typeSection(r)
	case secImport:
		p, err = in.importSection(r)
	case secTable:
		p, err = in.tableSection(r)
	case secGlobal:
		p, err = in.globalSection(r)
	case secExport:
		p, err = in.exportSection(r)
	case secStart:
		var idx uint32
		if idx, err = r.u32(); err == nil {
			if p, err = in.appendFunc(r, 0, nil, idx); err == nil {
				err = r.done()
			}
		}
	case secElement:
		p, err = in.elementSection(r)
	case secCode:
		p, err = in.codeSection(r)
	case secData:
		p, err = r.b, r.dataSection()
	case secCustom:
		return in.customSection(out, r)
	default: // function, memory, data count: copied
		p = s.payload
	}
	if err != nil {
		return nil, err
	}
	out = append(out, s.id)
	out = appendU32(out, uint32(len(p)))
	return append(out, p...), nil
}

// count reads a vector length for a section that may be absent (empty r).
func (r *reader) count() (uint32, error) {
	if len(r.b) == 0 {
		return 0, nil
	}
	return r.u32()
}

func (in *instrumenter) typeSection(r *reader) ([]byte, error) {
	n, err := r.count()
	if err != nil || !in.addType {
		return r.b, err
	}
	p := appendU32(nil, n+1)
	p = append(p, r.b[r.pos:]...)
	return append(p, 0x60, 0x00, 0x00), nil
}

func (in *instrumenter) importSection(r *reader) ([]byte, error) {
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	p := appendU32(nil, n+1)
	p = append(p, r.b[r.pos:]...)
	p = appendName(p, in.o.ImportModule)
	p = appendName(p, in.o.ImportName)
	p = append(p, 0x00)
	return appendU32(p, in.hookType), nil
}

// tableSection only checks that no table has an initializer expression
// (which could hold ref.func): tables are copied as they are.
func (in *instrumenter) tableSection(r *reader) ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	for ; n > 0; n-- {
		if !r.eof() && r.b[r.pos] == 0x40 {
			return nil, r.unsupported(r.pos, "table with an initializer (typed function references)")
		}
		if err := r.refType(); err != nil {
			return nil, err
		}
		if err := r.limits(); err != nil {
			return nil, err
		}
	}
	return r.b, r.done()
}

func (in *instrumenter) globalSection(r *reader) ([]byte, error) {
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	p := appendU32(nil, n+1)
	for i := uint32(0); i < n; i++ {
		start := r.pos
		if err := r.valType(); err != nil {
			return nil, err
		}
		if err := r.mutability(); err != nil {
			return nil, err
		}
		p = append(p, r.b[start:r.pos]...)
		if p, err = in.constExpr(r, p); err != nil {
			return nil, err
		}
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	return append(p, 0x7E, 0x01, 0x42, 0x00, 0x0B), nil // mut i64, i64.const 0
}

func (in *instrumenter) exportSection(r *reader) ([]byte, error) {
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	p := appendU32(nil, n+1)
	for ; n > 0; n-- {
		at := r.pos
		name, err := r.name()
		if err != nil {
			return nil, err
		}
		if string(name) == in.o.GlobalExport {
			return nil, r.unsupported(at, "export name %q already in use (module instrumented twice?)", name)
		}
		kind, err := r.byte()
		if err != nil {
			return nil, err
		}
		if kind > 4 {
			r.pos--
			return nil, r.malformed("export kind %#02x", kind)
		}
		p = append(p, r.b[at:r.pos]...) // name and kind
		idxAt := r.pos
		idx, err := r.u32()
		if err != nil {
			return nil, err
		}
		if kind == 0 {
			if p, err = in.appendFunc(r, idxAt, p, idx); err != nil {
				return nil, err
			}
		} else {
			p = append(p, r.b[idxAt:r.pos]...)
		}
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	p = appendName(p, in.o.GlobalExport)
	p = append(p, 0x03)
	return appendU32(p, in.fuelGlobal), nil
}
