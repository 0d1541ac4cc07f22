package arena

import "unsafe"

func unsafe32(w []uint64) []uint32 {
	if len(w) == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&w[0])), len(w)*2)
}
