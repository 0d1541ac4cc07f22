package schema

import (
	"strings"

	capnp "capnproto.org/go/capnp/v3"
)

// The fallback decodes, with the generated capnp-go reader, the legal
// messages the fast path does not handle: several segments, far pointers.
// It applies the same limits and the same strictness checks on top of
// capnp-go's own, so that both paths give the same answer for any message.

// capnpRoot unmarshals msg (already checked by checkFraming) and returns its
// root struct.
func capnpRoot(msg []byte, lim DecodeLimits) (capnp.Struct, error) {
	m, err := capnp.Unmarshal(msg)
	if err != nil {
		return capnp.Struct{}, capnpError("framing", err)
	}
	m.TraverseLimit = lim.traverseBytes()
	m.DepthLimit = lim.MaxDepth
	p, err := m.Root()
	if err != nil {
		return capnp.Struct{}, capnpError("root", err)
	}
	switch {
	case !p.IsValid():
		return capnp.Struct{}, malformed("null root pointer", -1)
	case p.Interface().IsValid():
		return capnp.Struct{}, malformed("root: capability pointer (this schema has no interfaces)", -1)
	case !p.Struct().IsValid():
		return capnp.Struct{}, malformed("root pointer is a list, not a struct", -1)
	}
	return p.Struct(), nil
}

// capnpError turns an error of capnp-go's reader into a *DecodeError.
// capnp-go has no typed errors, so its limit errors are recognized by their
// text ("read traversal limit reached", "depth limit reached");
// TestFallbackLimitErrors catches a capnp-go upgrade that changes them.
func capnpError(field string, err error) error {
	s := err.Error()
	e := &DecodeError{Reason: field + ": " + s, Offset: -1, Err: ErrMalformed}
	if strings.Contains(s, "limit reached") {
		e.Err = ErrLimit
	}
	return e
}

// capnpPtr reads pointer i of s once (every read counts against the
// traversal limit) and refuses capability pointers.
func capnpPtr(s capnp.Struct, i uint16, field string) (capnp.Ptr, error) {
	p, err := s.Ptr(i)
	if err != nil {
		return capnp.Ptr{}, capnpError(field, err)
	}
	if p.Interface().IsValid() {
		return capnp.Ptr{}, malformed(field+": capability pointer (this schema has no interfaces)", -1)
	}
	return p, nil
}

// capnpText is fastReader.text for the fallback. capnp-go's TextBytes would
// turn a wrong kind or a missing NUL into "" silently; we refuse them.
func capnpText(s capnp.Struct, i uint16, field string) ([]byte, error) {
	p, err := capnpPtr(s, i, field)
	if err != nil || !p.IsValid() {
		return nil, err
	}
	b := p.Data() // nil unless p is a byte list
	if b == nil {
		return nil, malformed(field+": text pointer is not a byte list", -1)
	}
	if len(b) == 0 || b[len(b)-1] != 0 {
		return nil, malformed(field+": text is not NUL-terminated", -1)
	}
	n := len(b) - 1
	return b[:n:n], nil
}

// capnpStruct is fastReader.child for the fallback.
func capnpStruct(s capnp.Struct, i uint16, field string) (capnp.Struct, error) {
	p, err := capnpPtr(s, i, field)
	if err != nil || !p.IsValid() {
		return capnp.Struct{}, err
	}
	if !p.Struct().IsValid() {
		return capnp.Struct{}, malformed(field+": list pointer where a struct was expected", -1)
	}
	return p.Struct(), nil
}

func capnpRef(s capnp.Struct, i uint16, field string) (Ref, error) {
	st, err := capnpStruct(s, i, field)
	ref := BufferRef(st)
	return Ref{Offset: ref.Offset(), Length: ref.Length(), Handle: ref.Handle()}, err
}

func decodeRequestCapnp(msg []byte, lim DecodeLimits, r *Request) error {
	root, err := capnpRoot(msg, lim)
	if err != nil {
		return err
	}
	jr := JobRequest(root)
	r.JobID = jr.JobId()
	r.DeadlineUnixNs = jr.DeadlineUnixNs()
	r.SubmitUnixNs = jr.SubmitUnixNs()
	if r.Library, err = capnpText(root, 0, "library"); err != nil {
		return err
	}
	if r.Method, err = capnpText(root, 1, "method"); err != nil {
		return err
	}
	if r.Params, err = capnpText(root, 2, "params"); err != nil {
		return err
	}
	if r.Input, err = capnpRef(root, 3, "input"); err != nil {
		return err
	}
	if r.Output, err = capnpRef(root, 4, "output"); err != nil {
		return err
	}
	ls, err := capnpStruct(root, 5, "limits")
	if err != nil {
		return err
	}
	l := Limits(ls)
	r.Limits = JobLimits{
		MaxFuel:        l.MaxFuel(),
		TimeoutNs:      l.TimeoutNs(),
		MaxOutputBytes: l.MaxOutputBytes(),
		MaxMemoryPages: l.MaxMemoryPages(),
	}
	return nil
}

func decodeResultCapnp(msg []byte, lim DecodeLimits, r *Result) error {
	root, err := capnpRoot(msg, lim)
	if err != nil {
		return err
	}
	jr := JobResult(root)
	r.JobID = jr.JobId()
	r.Status = jr.Status()
	r.ErrorKind = jr.ErrorKind()
	r.QueueNs = jr.QueueNs()
	r.ExecNs = jr.ExecNs()
	r.FuelUsed = jr.FuelUsed()
	r.OutputNeeded = jr.OutputNeeded()
	if r.Output, err = capnpRef(root, 0, "output"); err != nil {
		return err
	}
	r.ErrorMessage, err = capnpText(root, 1, "errorMessage")
	return err
}
