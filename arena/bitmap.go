package arena

import "math/bits"

// hbitmap is a hierarchical bitmap over words of shared metadata: level 0
// holds one bit per item, each higher level one bit per non-zero word of
// the level below, up to a single word. First finds the lowest set bit in
// O(depth) word reads, Set and Clear touch one word per level at most.
type hbitmap struct {
	lv [][]uint64 // lv[0] is the item level
}

// hbitmapWords returns how many words an hbitmap of n items needs.
func hbitmapWords(n uint64) uint64 {
	total := uint64(0)
	for {
		w := (n + 63) / 64
		if w == 0 {
			w = 1
		}
		total += w
		if w == 1 {
			return total
		}
		n = w
	}
}

func newHbitmap(words []uint64, n uint64) hbitmap {
	var b hbitmap
	for {
		w := (n + 63) / 64
		if w == 0 {
			w = 1
		}
		b.lv = append(b.lv, words[:w:w])
		words = words[w:]
		if w == 1 {
			return b
		}
		n = w
	}
}

func (b hbitmap) test(i uint64) bool { return b.lv[0][i>>6]&(1<<(i&63)) != 0 }

func (b hbitmap) set(i uint64) {
	for _, l := range b.lv {
		was := l[i>>6]
		l[i>>6] = was | 1<<(i&63)
		if was != 0 {
			return
		}
		i >>= 6
	}
}

func (b hbitmap) clear(i uint64) {
	for _, l := range b.lv {
		l[i>>6] &^= 1 << (i & 63)
		if l[i>>6] != 0 {
			return
		}
		i >>= 6
	}
}

// first returns the lowest set item.
func (b hbitmap) first() (uint64, bool) {
	top := len(b.lv) - 1
	if b.lv[top][0] == 0 {
		return 0, false
	}
	i := uint64(0)
	for l := top; l >= 0; l-- {
		i = i<<6 | uint64(bits.TrailingZeros64(b.lv[l][i]))
	}
	return i, true
}

// next returns the lowest set item at or after i.
func (b hbitmap) next(i uint64) (uint64, bool) {
	return b.nextAt(0, i)
}

func (b hbitmap) nextAt(l int, i uint64) (uint64, bool) {
	lv := b.lv[l]
	w := i >> 6
	if w >= uint64(len(lv)) {
		return 0, false
	}
	if rest := lv[w] >> (i & 63); rest != 0 {
		return i + uint64(bits.TrailingZeros64(rest)), true
	}
	if l == len(b.lv)-1 {
		return 0, false
	}
	// The next non-empty word of this level, from the level above.
	nw, ok := b.nextAt(l+1, w+1)
	if !ok {
		return 0, false
	}
	return nw<<6 | uint64(bits.TrailingZeros64(lv[nw])), true
}
