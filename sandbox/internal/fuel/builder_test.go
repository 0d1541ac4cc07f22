package fuel

// A byte-level module builder for hand-written test modules: no text format,
// no external tools.

func leb(v uint32) []byte { return appendU32(nil, v) }

func sleb(v int64) []byte { return appendS64(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// vec is a vector: element count, then the elements.
func vec(items ...[]byte) []byte { return append(leb(uint32(len(items))), cat(items...)...) }

func str(s string) []byte { return appendName(nil, s) }

func sec(id byte, parts ...[]byte) []byte {
	p := cat(parts...)
	return cat([]byte{id}, leb(uint32(len(p))), p)
}

func custom(name string, parts ...[]byte) []byte { return sec(secCustom, str(name), cat(parts...)) }

func module(sections ...[]byte) []byte { return cat([]byte(header), cat(sections...)) }

// fn is a function body: locals (each a count and a type), then code.
func fn(locals [][2]uint32, code ...[]byte) []byte {
	var ls [][]byte
	for _, l := range locals {
		ls = append(ls, cat(leb(l[0]), []byte{byte(l[1])}))
	}
	b := cat(vec(ls...), cat(code...))
	return cat(leb(uint32(len(b))), b)
}

func functype(params, results []byte) []byte {
	return cat([]byte{0x60}, leb(uint32(len(params))), params, leb(uint32(len(results))), results)
}

// Instruction helpers for the few opcodes with immediates the tests use.
func op(b ...byte) []byte                 { return b }
func i32c(v int32) []byte                 { return cat(op(0x41), sleb(int64(v))) }
func i64c(v int64) []byte                 { return cat(op(0x42), sleb(v)) }
func lget(i uint32) []byte                { return cat(op(0x20), leb(i)) }
func lset(i uint32) []byte                { return cat(op(0x21), leb(i)) }
func ltee(i uint32) []byte                { return cat(op(0x22), leb(i)) }
func gget(i uint32) []byte                { return cat(op(0x23), leb(i)) }
func gset(i uint32) []byte                { return cat(op(0x24), leb(i)) }
func call(f uint32) []byte                { return cat(op(0x10), leb(f)) }
func refFunc(f uint32) []byte             { return cat(op(0xD2), leb(f)) }
func fc(sub uint32, imm ...uint32) []byte { return prefixed(0xFC, sub, imm...) }
func fd(sub uint32, imm ...uint32) []byte { return prefixed(0xFD, sub, imm...) }

func prefixed(p byte, sub uint32, imm ...uint32) []byte {
	b := cat(op(p), leb(sub))
	for _, v := range imm {
		b = append(b, leb(v)...)
	}
	return b
}

const (
	tI32     = 0x7F
	tI64     = 0x7E
	tV128    = 0x7B
	tFuncref = 0x70
	opEnd    = 0x0B
)

var end = op(opEnd)
