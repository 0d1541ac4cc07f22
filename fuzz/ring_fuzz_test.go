package fuzz

import (
	"errors"
	"testing"

	"github.com/inos-node/node/ring"
)

// modelSlot is one position of the reference queue.
type modelSlot struct {
	owner uint16
	state int // 0 claimed, 1 published, 2 abandoned
	e     ring.Entry
}

// FuzzRing drives a ring with a byte string of operations — push, reserve
// (a claim left open), publish an open claim, abandon an owner's claims,
// pop a batch — and checks every result against a plain slice model:
// order, contents, fullness, skipped counts and length.
func FuzzRing(f *testing.F) {
	f.Add(uint8(2), []byte{0, 0, 0, 4, 4, 4})
	f.Add(uint8(3), []byte{0x10, 0x21, 0x30, 0x44, 0x33, 0x04, 0x00, 0x05})
	f.Add(uint8(1), []byte{0x11, 0x12, 0x13, 0x31, 0x24, 0x04, 0x14, 0x04})
	f.Fuzz(func(t *testing.T, capLog uint8, ops []byte) {
		capacity := 1 << (1 + capLog%5)
		mem := make([]byte, ring.Size(capacity))
		r, err := ring.Init(mem, capacity)
		if err != nil {
			t.Fatal(err)
		}
		var model []modelSlot
		open := map[uint16][]ring.Reservation{}
		openIdx := map[uint16][]int{} // indices into model, shifted on pop
		var next uint64
		dst := make([]ring.Entry, 8)
		for i, op := range ops {
			owner := uint16(op>>4)%4 + 1
			switch op % 6 {
			case 0, 1: // push
				e := ring.Entry{Off: next, Len: uint32(next), Aux: uint32(owner), Tag: next ^ 0xabcdef}
				next++
				err := r.Publish(owner, e)
				if len(model) == capacity {
					if !errors.Is(err, ring.ErrFull) {
						t.Fatalf("op %d: push into full ring: %v", i, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("op %d: push: %v", i, err)
				}
				e.Owner = owner
				model = append(model, modelSlot{owner: owner, state: 1, e: e})
			case 2: // reserve and leave open
				c, err := r.Reserve(owner)
				if len(model) == capacity {
					if !errors.Is(err, ring.ErrFull) {
						t.Fatalf("op %d: reserve in full ring: %v", i, err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				open[owner] = append(open[owner], c)
				openIdx[owner] = append(openIdx[owner], len(model))
				model = append(model, modelSlot{owner: owner, state: 0})
			case 3: // publish the owner's oldest open claim
				if len(open[owner]) == 0 {
					continue
				}
				e := ring.Entry{Off: next, Len: 1, Tag: next, Owner: owner}
				next++
				open[owner][0].Publish(e)
				model[openIdx[owner][0]] = modelSlot{owner: owner, state: 1, e: e}
				open[owner], openIdx[owner] = open[owner][1:], openIdx[owner][1:]
			case 4: // pop a batch
				k := 1 + int(op>>4)%8
				n, skipped := r.PopBatch(dst[:k])
				wantN, wantSkip, j := 0, 0, 0
				for ; j < len(model) && wantN < k; j++ {
					if model[j].state == 0 {
						break
					}
					if model[j].state == 2 {
						wantSkip++
						continue
					}
					if dst[wantN] != model[j].e {
						t.Fatalf("op %d: popped %+v, want %+v", i, dst[wantN], model[j].e)
					}
					wantN++
				}
				if n != wantN || skipped != wantSkip {
					t.Fatalf("op %d: popped %d skipped %d, want %d %d", i, n, skipped, wantN, wantSkip)
				}
				model = model[j:]
				for o := range openIdx {
					for x := range openIdx[o] {
						openIdx[o][x] -= j
					}
				}
			case 5: // the owner dies: its open claims are abandoned
				got := r.Abandon(owner)
				if got != len(open[owner]) {
					t.Fatalf("op %d: Abandon(%d) = %d, want %d", i, owner, got, len(open[owner]))
				}
				for _, x := range openIdx[owner] {
					model[x].state = 2
				}
				delete(open, owner)
				delete(openIdx, owner)
			}
			if r.Len() != len(model) {
				t.Fatalf("op %d: Len %d, model %d", i, r.Len(), len(model))
			}
		}
	})
}
