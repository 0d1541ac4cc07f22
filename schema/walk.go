package schema

import (
	"encoding/binary"
	"strconv"
)

// Walk visits every pointer of the framed message msg — those this schema
// knows and any others, at every depth — checking bounds, and refuses the
// message if its nesting is deeper than lim.MaxDepth or the objects it
// visits add up to more than lim.TraverseWords. It is the full validation
// that Cap'n Proto readers only do lazily, field by field: DecodeRequest
// follows only the pointers a JobRequest has, so a message can carry
// anything in pointers a newer schema would add. The node calls Walk before
// it trusts an envelope, so that nothing it cannot account for rides along.
//
// Walk allocates nothing for messages of up to 8 segments.
func Walk(msg []byte, lim DecodeLimits) error {
	lim = lim.resolve()
	nseg, err := checkFraming(msg, lim.MaxMessageBytes)
	if err != nil {
		return err
	}
	var small [8][]byte
	segs := small[:0]
	if nseg > len(small) {
		segs = make([][]byte, 0, nseg)
	}
	off := (nseg/2 + 1) * 8
	for i := 0; i < nseg; i++ {
		sz := int(binary.LittleEndian.Uint32(msg[4+4*i:])) * 8
		segs = append(segs, msg[off:off+sz:off+sz])
		off += sz
	}
	w := walker{segs: segs, budget: lim.TraverseWords, maxDepth: lim.MaxDepth}
	return w.pointer(0, 0, 1)
}

type walker struct {
	segs     [][]byte
	budget   uint64 // words left to visit
	maxDepth uint
}

func (w *walker) fail(reason string, seg, at int) error {
	return malformed("walk: "+reason+" (segment "+strconv.Itoa(seg)+")", at)
}

func (w *walker) spend(words uint64, seg, at int) error {
	if words > w.budget {
		return overLimit("walk: message visits more words than the traversal limit", at)
	}
	w.budget -= words
	return nil
}

// pointer checks the pointer at word index at of segment seg, at the given
// depth (the root is depth 1), and walks what it points to.
func (w *walker) pointer(seg, at int, depth uint) error {
	s := w.segs[seg]
	if (at+1)*8 > len(s) {
		return w.fail("pointer outside its segment", seg, at*8)
	}
	raw := binary.LittleEndian.Uint64(s[at*8:])
	if raw == 0 {
		return nil
	}
	if depth > w.maxDepth {
		return overLimit("walk: nesting deeper than the depth limit ("+strconv.Itoa(int(w.maxDepth))+")", at*8)
	}
	// Follow far pointers to their landing pad.
	tagSeg, tagAt := seg, at
	var contentSeg, contentAt int
	switch raw & 3 {
	case kindFar:
		padSeg := int(raw >> 32)
		padAt := int(uint32(raw) >> 3)
		double := raw&4 != 0
		if padSeg >= len(w.segs) {
			return w.fail("far pointer to a missing segment", seg, at*8)
		}
		ps := w.segs[padSeg]
		need := 1
		if double {
			need = 2
		}
		if (padAt+need)*8 > len(ps) {
			return w.fail("landing pad outside its segment", seg, at*8)
		}
		pad := binary.LittleEndian.Uint64(ps[padAt*8:])
		if !double {
			if pad&3 == kindFar {
				return w.fail("far pointer to a far pointer", seg, at*8)
			}
			return w.target(padSeg, padAt, pad, depth, padSeg, padAt+1+int(int32(uint32(pad))>>2))
		}
		// Double far: pad[0] is a far pointer to the content, pad[1] the tag.
		if pad&7 != kindFar {
			return w.fail("double-far landing pad is not a single far pointer", seg, at*8)
		}
		contentSeg, contentAt = int(pad>>32), int(uint32(pad)>>3)
		if contentSeg >= len(w.segs) {
			return w.fail("double-far pointer to a missing segment", seg, at*8)
		}
		tag := binary.LittleEndian.Uint64(ps[(padAt+1)*8:])
		if uint32(tag)>>2 != 0 {
			return w.fail("double-far tag with an offset", seg, at*8)
		}
		return w.target(padSeg, padAt+1, tag, depth, contentSeg, contentAt)
	case kindOther:
		return w.fail("capability or unknown pointer", seg, at*8)
	}
	contentSeg, contentAt = tagSeg, tagAt+1+int(int32(uint32(raw))>>2)
	return w.target(tagSeg, tagAt, raw, depth, contentSeg, contentAt)
}

// target walks the object described by pointer raw (a struct or list
// pointer) whose content starts at word contentAt of segment contentSeg.
func (w *walker) target(seg, at int, raw uint64, depth uint, contentSeg, contentAt int) error {
	cs := w.segs[contentSeg]
	words := len(cs) / 8
	if contentAt < 0 || contentAt > words {
		return w.fail("pointer target outside its segment", seg, at*8)
	}
	switch raw & 3 {
	case kindStruct:
		data, ptrs := int(uint16(raw>>32)), int(uint16(raw>>48))
		if contentAt+data+ptrs > words {
			return w.fail("struct outside its segment", seg, at*8)
		}
		if err := w.spend(uint64(data+ptrs), seg, at*8); err != nil {
			return err
		}
		for i := 0; i < ptrs; i++ {
			if err := w.pointer(contentSeg, contentAt+data+i, depth+1); err != nil {
				return err
			}
		}
		return nil
	case kindList:
		elem := (raw >> 32) & 7
		count := int(raw >> 35)
		var size int // words
		switch elem {
		case listVoid:
			size = 0
		case listBit:
			size = (count + 63) / 64
		case listByte:
			size = (count + 7) / 8
		case listTwo:
			size = (count*2 + 7) / 8
		case listFour:
			size = (count*4 + 7) / 8
		case listEight, listPointer:
			size = count
		case listComposite:
			size = count + 1 // count is words after the tag
		}
		if contentAt+size > words {
			return w.fail("list outside its segment", seg, at*8)
		}
		if err := w.spend(uint64(max(size, 1)), seg, at*8); err != nil {
			return err
		}
		switch elem {
		case listPointer:
			for i := 0; i < count; i++ {
				if err := w.pointer(contentSeg, contentAt+i, depth+1); err != nil {
					return err
				}
			}
		case listComposite:
			tag := binary.LittleEndian.Uint64(cs[contentAt*8:])
			if tag&3 != kindStruct {
				return w.fail("composite list tag is not a struct", seg, at*8)
			}
			n := int(int32(uint32(tag)) >> 2)
			data, ptrs := int(uint16(tag>>32)), int(uint16(tag>>48))
			if n < 0 || n*(data+ptrs) > count {
				return w.fail("composite list elements overrun the list", seg, at*8)
			}
			if ptrs == 0 {
				// Nothing to follow: do not loop over elements that may be
				// empty (2^29 zero-sized structs fit in one word).
				return nil
			}
			for e := 0; e < n; e++ {
				base := contentAt + 1 + e*(data+ptrs) + data
				for i := 0; i < ptrs; i++ {
					if err := w.pointer(contentSeg, base+i, depth+1); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	return w.fail("far pointer's landing pad is not a struct or list pointer", seg, at*8)
}
