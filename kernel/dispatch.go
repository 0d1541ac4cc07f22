package kernel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/inos-node/node/arena"
	"github.com/inos-node/node/internal/jsonparams"
	"github.com/inos-node/node/ring"
	"github.com/inos-node/node/schema"
)

// handle runs one inbox entry to its outbox entry. It never panics on bad
// input and never touches memory outside the producer's own pinned arena
// blocks. start is
// the time the job starts; handle returns the time it ended, which is the
// next job's start (one clock read per job).
func (n *Node) handle(ctx context.Context, e *ring.Entry, start time.Time) time.Time {
	slot := int(e.Owner) - 1
	if slot < 0 || slot >= len(n.outboxes) || !n.reg.Active(slot, e.Aux) {
		// A dead or departed producer's entry (or a forged owner): its
		// memory may already belong to someone else. Touch nothing.
		n.stats.dropped.Add(1)
		return start
	}
	// The entry's Off is the envelope block's arena handle: the block must
	// be the producer's, pinned, and hold max(Len, ResultBufferMin) bytes.
	owner := arena.Owner(e.Owner)
	bufLen := max(uint64(e.Len), ResultBufferMin)
	boff, blen, err := n.arena.Check(arena.Handle(e.Off), owner)
	if err != nil || e.Len == 0 || uint64(e.Len) > uint64(n.cfg.MaxEnvelopeBytes) || blen < bufLen {
		n.reply(slot, e.Tag, 0, 0, schema.ErrorInvalidReference)
		return start
	}
	envOff := n.layout.HeapOff + boff
	buf := n.mem[envOff : envOff+bufLen : envOff+bufLen]

	// Copy the envelope out before looking at it: the producer can still
	// write shared memory, and a check must see the bytes we then use.
	msg := n.scratch[:e.Len]
	copy(msg, buf)

	res := &n.res
	*res = schema.Result{JobID: e.Tag}
	out, jerr := n.run(ctx, owner, msg, e.Tag, start)
	end := time.Now()
	res.ExecNs = uint64(end.Sub(start))
	res.FuelUsed = n.job.FuelUsed
	if sub := n.req.SubmitUnixNs; sub > 0 && start.UnixNano() > sub {
		res.QueueNs = uint64(start.UnixNano() - sub)
	}
	if jerr != nil {
		res.Status = schema.StatusError
		res.ErrorKind = jerr.Kind
		res.ErrorMessage = append(res.ErrorMessage[:0], jerr.Msg...)
		res.OutputNeeded = jerr.OutputNeeded
	} else {
		res.Output = out
	}
	// Fit the result into the envelope buffer, cutting the message if need be.
	if sz := schema.ResultSize(res); sz > len(buf) {
		cut := len(res.ErrorMessage) - (sz - len(buf)) - 8
		res.ErrorMessage = res.ErrorMessage[:max(cut, 0)]
	}
	enc := schema.AppendResult(buf[:0], res)
	n.reply(slot, e.Tag, envOff, uint32(len(enc)), res.ErrorKind)
	if o := n.cfg.Observer; o != nil {
		ev := &n.event
		*ev = JobEvent{Method: n.method.id, Library: n.method.library, MethodName: n.method.name, Kind: res.ErrorKind,
			QueueNs: res.QueueNs, ExecNs: res.ExecNs, FuelUsed: res.FuelUsed, Ran: n.ran,
			InputBytes: n.req.Input.Length, OutputBytes: res.Output.Length}
		if sub := n.req.SubmitUnixNs; sub > 0 {
			if now := time.Now().UnixNano(); now > sub {
				ev.TotalNs = uint64(now - sub)
			}
		}
		o.Observe(ev)
	}
	return end
}

// run validates the decoded copy and calls the method.
func (n *Node) run(ctx context.Context, owner arena.Owner, msg []byte, tag uint64, now time.Time) (schema.Ref, *Error) {
	req := &n.req
	n.job.FuelUsed = 0
	n.method, n.ran = method{id: NoMethod}, false
	// Walk every pointer first, known or not: nothing nested deeper, larger
	// or stranger than the limits allow rides along in fields we skip.
	if err := schema.Walk(msg, n.cfg.Decode); err != nil {
		*req = schema.Request{}
		return schema.Ref{}, errorf(schema.ErrorInvalidEnvelope, "%v", err)
	}
	if err := schema.DecodeRequest(msg, n.cfg.Decode, req); err != nil {
		*req = schema.Request{}
		return schema.Ref{}, errorf(schema.ErrorInvalidEnvelope, "%v", err)
	}
	if req.JobID != tag {
		return schema.Ref{}, errorf(schema.ErrorInvalidEnvelope, "job id %d in envelope, %d in ring slot", req.JobID, tag)
	}
	params := req.Params
	if len(params) == 0 {
		params = emptyObject
	}
	if err := jsonparams.Validate(params, jsonparams.Limits{MaxBytes: n.cfg.MaxParamsBytes}); err != nil {
		return schema.Ref{}, errorf(schema.ErrorInvalidParams, "%v", err)
	}
	inBlock, rerr := n.checkRef("input", req.Input, owner)
	if rerr != nil {
		return schema.Ref{}, rerr
	}
	outBlock, rerr := n.checkRef("output", req.Output, owner)
	if rerr != nil {
		return schema.Ref{}, rerr
	}
	m, lerr := n.cfg.Libraries.lookup(req.Library, req.Method)
	if lerr != nil {
		return schema.Ref{}, lerr
	}
	n.method = m
	var deadline time.Time
	if req.DeadlineUnixNs != 0 {
		deadline = time.Unix(0, req.DeadlineUnixNs)
		if !now.Before(deadline) {
			return schema.Ref{}, errorf(schema.ErrorDeadlineExceeded, "deadline passed %v before the job started", now.Sub(deadline))
		}
	}
	if g := n.cfg.Gate; g != nil {
		if err := g.Admit(m.id); err != nil {
			return schema.Ref{}, err
		}
	}
	// The Job lives in the node and is reused: a method must not keep it.
	job := &n.job
	*job = Job{
		ID: req.JobID, Library: m.library, Method: m.name, Params: params,
		Input: n.view(req.Input), InputRef: req.Input, Output: n.view(req.Output), OutputRef: req.Output,
		Deadline: deadline, Limits: req.Limits,
		InputBlock: inBlock, OutputBlock: outBlock, Region: n.region,
	}
	n.ran = true
	out, err := callMethod(ctx, m.fn, job)
	if err != nil {
		var ke *Error
		if errors.As(err, &ke) {
			return schema.Ref{}, ke
		}
		return schema.Ref{}, &Error{Kind: schema.ErrorLibraryFailed, Msg: err.Error()}
	}
	switch {
	case out.Length == 0:
		return schema.Ref{}, nil
	case within(out.Offset, out.Length, outBlock.Offset, outBlock.Length):
		out.Handle = outBlock.Handle
	case within(out.Offset, out.Length, inBlock.Offset, inBlock.Length):
		out.Handle = inBlock.Handle
	default:
		return schema.Ref{}, errorf(schema.ErrorInternal, "%s.%s returned output [%d,+%d) outside the job's input and output blocks", m.library, m.name, out.Offset, out.Length)
	}
	return out, nil
}

// checkRef validates a reference against the arena block its handle names
// and returns that block's range (region offsets). An empty reference is
// valid and names nothing.
func (n *Node) checkRef(what string, r schema.Ref, owner arena.Owner) (schema.Ref, *Error) {
	if r.Length == 0 {
		return schema.Ref{}, nil
	}
	boff, blen, err := n.arena.Check(arena.Handle(r.Handle), owner)
	if err != nil {
		return schema.Ref{}, errorf(schema.ErrorInvalidReference, "%s: %v", what, err)
	}
	block := schema.Ref{Offset: n.layout.HeapOff + boff, Length: blen, Handle: r.Handle}
	if !within(r.Offset, r.Length, block.Offset, block.Length) {
		return schema.Ref{}, errorf(schema.ErrorInvalidReference, "%s [%d,+%d) is outside its block [%d,+%d)", what, r.Offset, r.Length, block.Offset, block.Length)
	}
	return block, nil
}

var emptyObject = []byte("{}")

func (n *Node) view(r schema.Ref) []byte {
	if r.Length == 0 {
		return nil
	}
	return n.mem[r.Offset : r.Offset+r.Length : r.Offset+r.Length]
}

// within reports whether [off, off+size) lies inside [base, base+limit),
// without overflow.
func within(off, size, base, limit uint64) bool {
	if size == 0 && off == 0 {
		return true // the empty reference
	}
	return off >= base && off-base <= limit && size <= limit-(off-base)
}

// reply publishes a result entry in producer slot's outbox. The producer is
// woken once per batch, in Step.
func (n *Node) reply(slot int, job, off uint64, length uint32, kind schema.ErrorKind) {
	n.stats.jobs.Add(1)
	if kind != schema.ErrorNone {
		n.stats.failed.Add(1)
		if int(kind) < len(n.stats.byKind) {
			n.stats.byKind[kind].Add(1)
		}
	}
	if err := n.outboxes[slot].Publish(0, ring.Entry{Off: off, Len: length, Tag: job, Aux: uint32(kind)}); err != nil {
		// The client never has more jobs in flight than its outbox holds,
		// so only a misbehaving producer gets here; it loses this result.
		n.stats.outboxFull.Add(1)
		return
	}
	if !n.touched[slot] {
		n.touched[slot] = true
		n.touchedL = append(n.touchedL, slot)
	}
}

// callMethod runs fn, turning a panic into an error: a library bug fails
// its job, not the node.
func callMethod(ctx context.Context, fn Method, job *Job) (out schema.Ref, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Error{Kind: schema.ErrorInternal, Msg: fmt.Sprintf("%s.%s panicked: %v", job.Library, job.Method, p)}
		}
	}()
	return fn(ctx, job)
}
