package kernel_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/inos-node/node/client"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
	"github.com/inos-node/node/shm"
)

func TestJobsAndRefusals(t *testing.T) {
	name := regionName(t)
	startNode(t, smallConfig(name))
	c := attach(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	in, err := c.Alloc(1000)
	if err != nil {
		t.Fatal(err)
	}
	copy(in.Bytes, bytes.Repeat([]byte("inos"), 250))
	other := attach(t, name)
	theirs, err := other.Alloc(100)
	if err != nil {
		t.Fatal(err)
	}
	foreign := theirs.Ref // another producer's block
	outside := in.Ref     // own block, but a range past its end
	outside.Offset += 900
	outside.Length = 200
	noHandle := in.Ref
	noHandle.Handle = 0

	big := append(append([]byte(`{"k":"`), bytes.Repeat([]byte("x"), 1<<20)...), `"}`...)
	tests := []struct {
		name string
		job  client.Job
		kind schema.ErrorKind
	}{
		{"echo", client.Job{Library: "echo", Method: "echo", Input: in.Ref, Params: []byte(`{"a":[1,2,{"b":null}]}`)}, schema.ErrorNone},
		{"echo without params", client.Job{Library: "echo", Method: "echo", Input: in.Ref}, schema.ErrorNone},
		{"noop", client.Job{Library: "noop", Method: "noop"}, schema.ErrorNone},
		{"unknown library", client.Job{Library: "nope", Method: "echo"}, schema.ErrorUnknownLibrary},
		{"unknown method", client.Job{Library: "echo", Method: "nope"}, schema.ErrorUnknownMethod},
		{"params not JSON", client.Job{Library: "echo", Method: "echo", Params: []byte(`{"a":`)}, schema.ErrorInvalidParams},
		{"params not an object", client.Job{Library: "echo", Method: "echo", Params: []byte(`[1]`)}, schema.ErrorInvalidParams},
		{"params __proto__", client.Job{Library: "echo", Method: "echo", Params: []byte(`{"x":{"__proto__":{}}}`)}, schema.ErrorInvalidParams},
		{"params constructor", client.Job{Library: "echo", Method: "echo", Params: []byte(`{"constructor":1}`)}, schema.ErrorInvalidParams},
		{"params over 1 MiB", client.Job{Library: "echo", Method: "echo", Params: big}, schema.ErrorInvalidParams},
		{"input in another producer's block", client.Job{Library: "echo", Method: "echo", Input: foreign}, schema.ErrorInvalidReference},
		{"input past its block's end", client.Job{Library: "echo", Method: "echo", Input: outside}, schema.ErrorInvalidReference},
		{"input without a handle", client.Job{Library: "echo", Method: "echo", Input: noHandle}, schema.ErrorInvalidReference},
		{"output outside own memory", client.Job{Library: "noop", Method: "noop", Output: schema.Ref{Offset: 1 << 40, Length: 1}}, schema.ErrorInvalidReference},
		{"deadline passed", client.Job{Library: "noop", Method: "noop", Deadline: time.Now().Add(-time.Second)}, schema.ErrorDeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.Call(ctx, tc.job)
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != tc.kind {
				t.Fatalf("kind %v (%q), want %v", res.Kind, res.Message, tc.kind)
			}
			if tc.kind == schema.ErrorNone {
				if err := res.Err(); err != nil {
					t.Fatal(err)
				}
				if res.Output.Ref != tc.job.Input {
					t.Fatalf("output %+v, want the input %+v", res.Output.Ref, tc.job.Input)
				}
				return
			}
			var je *client.JobError
			if !errors.As(res.Err(), &je) || je.Kind != tc.kind || res.Message == "" {
				t.Fatalf("error %v, want a JobError of kind %v with a message", res.Err(), tc.kind)
			}
		})
	}
	// The node kept serving through every refusal.
	res, err := c.Call(ctx, client.Job{Library: "echo", Method: "echo", Input: in.Ref})
	if err != nil || res.Err() != nil || !bytes.Equal(res.Output.Bytes, in.Bytes) {
		t.Fatalf("after refusals: %v %v", err, res.Err())
	}
}

func TestEnvelopeRefusals(t *testing.T) {
	name := regionName(t)
	n := startNode(t, smallConfig(name))
	p := newRawProducer(t, name)

	good := schema.AppendRequest(nil, &schema.Request{JobID: 7, Library: []byte("noop"), Method: []byte("noop")})
	deep := deepMessage(100)
	tests := []struct {
		name string
		msg  []byte
		tag  uint64
		kind schema.ErrorKind
	}{
		{"good", good, 7, schema.ErrorNone},
		{"job id differs from slot tag", good, 8, schema.ErrorInvalidEnvelope},
		{"truncated", good[:len(good)/2], 9, schema.ErrorInvalidEnvelope},
		{"empty segment table lies", []byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0}, 10, schema.ErrorInvalidEnvelope},
		{"huge segment count", []byte{0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0}, 11, schema.ErrorInvalidEnvelope},
		{"huge pointer count", hugePointerCount(), 12, schema.ErrorInvalidEnvelope},
		{"deep nesting", deep, 13, schema.ErrorInvalidEnvelope},
		{"garbage", bytes.Repeat([]byte{0xa5}, 200), 14, schema.ErrorInvalidEnvelope},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := p.send(t, tc.msg, tc.tag)
			if e.Tag != tc.tag || schema.ErrorKind(e.Aux) != tc.kind {
				t.Fatalf("result tag %d kind %v, want %d %v", e.Tag, schema.ErrorKind(e.Aux), tc.tag, tc.kind)
			}
			var res schema.Result
			if err := schema.DecodeResult(p.region.Bytes()[e.Off:e.Off+uint64(e.Len)], schema.DefaultDecodeLimits(), &res); err != nil {
				t.Fatal(err)
			}
			if res.JobID != tc.tag || res.ErrorKind != tc.kind {
				t.Fatalf("result %+v", res)
			}
			if tc.kind != schema.ErrorNone && len(res.ErrorMessage) == 0 {
				t.Fatal("refusal without a message")
			}
			t.Logf("%s: %s", res.ErrorKind, res.ErrorMessage)
		})
	}
	// Entries the node cannot even locate get a bodiless result.
	h, _ := p.alloc(t, kernel.ResultBufferMin)
	small, _ := p.alloc(t, 100)
	for _, e := range []struct {
		name string
		off  uint64
		len  uint32
	}{
		{"envelope handle that names nothing", 12345, 100},
		{"envelope without a handle", 0, 100},
		{"empty envelope", uint64(h), 0},
		{"oversized envelope", uint64(h), 64 << 20},
		{"envelope block too small for the result", uint64(small), 100},
	} {
		r := p.sendEntry(t, ringEntry(e.off, e.len, p.gen, 99))
		if r.Len != 0 || schema.ErrorKind(r.Aux) != schema.ErrorInvalidReference || r.Tag != 99 {
			t.Errorf("%s: result %+v", e.name, r)
		}
	}
	if st := n.Stats(); st.Failed < uint64(len(tests)-1) {
		t.Fatalf("stats %+v", st)
	}
}

func TestFullInbox(t *testing.T) {
	name := regionName(t)
	cfg := smallConfig(name)
	cfg.InboxCap = 4
	n, err := kernel.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c, err := client.Attach(name, client.Options{FailWhenFull: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		if _, err := c.Submit(ctx, client.Job{Library: "noop", Method: "noop"}); err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
	}
	if _, err := c.Submit(ctx, client.Job{Library: "noop", Method: "noop"}); !errors.Is(err, client.ErrRingFull) {
		t.Fatalf("fifth submit into a 4-slot inbox: %v, want ErrRingFull", err)
	}
	// A waiting producer blocks until the node makes room, then goes on.
	w, err := client.Attach(name, client.Options{Wait: shm.WaitPolicy{Spin: time.Microsecond, Park: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	done := make(chan error, 1)
	go func() {
		_, err := w.Call(ctx, client.Job{Library: "noop", Method: "noop"})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("submit into a full ring returned before the node ran: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	for n.Step(ctx) == 0 {
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go n.Run(runCtx)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		r, err := c.Wait(ctx)
		if err != nil || r.Err() != nil {
			t.Fatalf("result %d: %v %v", i, err, r.Err())
		}
	}
}

func TestSecondNodeRefused(t *testing.T) {
	name := regionName(t)
	startNode(t, smallConfig(name))
	_, err := kernel.New(smallConfig(name))
	if !errors.Is(err, shm.ErrBusy) || !strings.Contains(err.Error(), "node pid") {
		t.Fatalf("second node on a live region: %v, want ErrBusy naming the pid", err)
	}
}

type panicky struct{}

func (panicky) Name() string { return "panicky" }
func (panicky) Methods() map[string]kernel.Method {
	return map[string]kernel.Method{"boom": func(context.Context, *kernel.Job) (schema.Ref, error) { panic("library bug") }}
}

func TestLibraryPanicFailsOnlyItsJob(t *testing.T) {
	name := regionName(t)
	cfg := smallConfig(name)
	var err error
	if cfg.Libraries, err = kernel.NewRegistry(kernel.Noop{}, panicky{}); err != nil {
		t.Fatal(err)
	}
	startNode(t, cfg)
	c := attach(t, name)
	ctx := context.Background()
	res, err := c.Call(ctx, client.Job{Library: "panicky", Method: "boom"})
	if err != nil || res.Kind != schema.ErrorInternal || !strings.Contains(res.Message, "panicked: library bug") {
		t.Fatalf("panicking job: %v %+v", err, res)
	}
	if res, err := c.Call(ctx, client.Job{Library: "noop", Method: "noop"}); err != nil || res.Err() != nil {
		t.Fatalf("after the panic: %v %v", err, res.Err())
	}
}

// TestHeapCompaction: movable blocks that nobody pins are moved by the
// node's housekeeping once the heap is fragmented; pinned ones stay; every
// byte survives the move.
func TestHeapCompaction(t *testing.T) {
	name := regionName(t)
	cfg := smallConfig(name)
	cfg.HeapBytes = 4 << 20
	n := startNode(t, cfg)
	c := attach(t, name)
	var ms []client.Movable
	for {
		m, err := c.AllocMovable(16 << 10)
		if err != nil {
			break
		}
		b, _ := c.Pin(m)
		for i := range b.Bytes {
			b.Bytes[i] = byte(len(ms))
		}
		c.Unpin(m)
		ms = append(ms, m)
	}
	// Free every other block: the heap is half free, in 16 KiB holes.
	var kept []client.Movable
	for i, m := range ms {
		if i%2 == 0 {
			if err := c.FreeMovable(m); err != nil {
				t.Fatal(err)
			}
		} else {
			kept = append(kept, m)
		}
	}
	last := kept[len(kept)-1]
	pinned, _ := c.Pin(last)
	before := pinned.Ref.Offset
	deadline := time.Now().Add(5 * time.Second)
	// Compaction moves one block at a time, releasing the heap's lock
	// between moves: wait for it to finish.
	for hs := n.HeapStats(); (hs.Compactions == 0 || hs.ExternalFrag > 0.5) && time.Now().Before(deadline); hs = n.HeapStats() {
		time.Sleep(5 * time.Millisecond)
	}
	hs := n.HeapStats()
	if hs.Compactions == 0 || hs.ExternalFrag > 0.5 {
		t.Fatalf("housekeeping did not compact: %+v", hs)
	}
	if again, _ := c.Pin(last); again.Ref.Offset != before {
		t.Fatalf("pinned block moved from %d to %d", before, again.Ref.Offset)
	}
	for i, m := range kept {
		b, err := c.Pin(m)
		if err != nil {
			t.Fatal(err)
		}
		want := byte(2*i + 1)
		for j := range b.Bytes {
			if b.Bytes[j] != want {
				t.Fatalf("block %d byte %d = %d after compaction, want %d", i, j, b.Bytes[j], want)
			}
		}
		// A pinned movable block is a valid job input.
		res, err := c.Call(context.Background(), client.Job{Library: "echo", Method: "echo", Input: b.Ref})
		if err != nil || res.Err() != nil || res.Output.Ref != b.Ref {
			t.Fatalf("echo of a pinned movable block: %v %v", err, res.Err())
		}
		c.Unpin(m)
	}
	t.Logf("heap after compaction: %d blocks moved, %d bytes, external fragmentation %.2f", hs.Compactions, hs.BytesMoved, hs.ExternalFrag)
}
