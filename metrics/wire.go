package metrics

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// WireVersion is the version of EncodeSnapshot's format. DecodeSnapshot
// refuses any other with a *VersionError.
const WireVersion = 1

// Extra is what the node adds to a snapshot for `inos stats` besides the
// per-method figures. Every field is optional.
type Extra struct {
	Node   string        `json:"node,omitempty"`
	Uptime time.Duration `json:"uptime_ns,omitempty"`
	// Taken is when the snapshot was taken.
	Taken time.Time `json:"taken,omitzero"`
	// SLO lines, in the order to show them.
	SLO []SLOLine `json:"slo,omitempty"`
	// Breakers maps a library to its circuit breaker's state.
	Breakers map[string]string `json:"breakers,omitempty"`
	// Notes are free lines to show under the figures.
	Notes []string `json:"notes,omitempty"`
}

// SLOLine is one objective's status, already rendered by its owner.
type SLOLine struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	Value  string `json:"value"`
	OK     bool   `json:"ok"`
}

// Decoded is a snapshot read back by DecodeSnapshot.
type Decoded struct {
	Stats []MethodStats
	Extra Extra
}

// VersionError is DecodeSnapshot's answer to a snapshot of another format
// version (a node and an inos binary of different releases).
type VersionError struct{ Got, Want int }

func (e *VersionError) Error() string {
	return fmt.Sprintf("metrics: snapshot format version %d, this build reads %d", e.Got, e.Want)
}

// wireSnapshot is the JSON form. Histograms travel in HdrHistogram's V2
// compressed base64 encoding: a populated latency histogram is a few
// hundred bytes to a few KB instead of the 200 KB of its counts.
type wireSnapshot struct {
	V       int          `json:"v"`
	Extra   Extra        `json:"extra"`
	Methods []wireMethod `json:"methods"`
}

type wireMethod struct {
	Library string          `json:"lib"`
	Method  string          `json:"method"`
	ID      kernel.MethodID `json:"id"`
	Jobs    uint64          `json:"jobs"`
	OK      uint64          `json:"ok"`
	// Errors by numeric kind: a newer node's kinds survive an older reader.
	Errors   map[schema.ErrorKind]uint64 `json:"errors,omitempty"`
	Fuel     uint64                      `json:"fuel,omitempty"`
	InBytes  uint64                      `json:"in,omitempty"`
	OutBytes uint64                      `json:"out,omitempty"`
	Start    time.Time                   `json:"start"`
	End      time.Time                   `json:"end"`
	Queue    string                      `json:"queue,omitempty"`
	Exec     string                      `json:"exec,omitempty"`
	Total    string                      `json:"total,omitempty"`
}

// EncodeSnapshot encodes stats and extra as JSON for `inos stats`. Methods
// with no jobs are left out. A node of 40 busy methods encodes to well
// under 1 MiB (about 1-3 KB per populated histogram).
func EncodeSnapshot(s []MethodStats, extra Extra) ([]byte, error) {
	w := wireSnapshot{V: WireVersion, Extra: extra, Methods: make([]wireMethod, 0, len(s))}
	for i := range s {
		st := &s[i]
		if st.Jobs == 0 {
			continue
		}
		m := wireMethod{Library: st.Library, Method: st.Method, ID: st.ID, Jobs: st.Jobs, OK: st.OK,
			Errors: st.Errors, Fuel: st.Fuel, InBytes: st.InBytes, OutBytes: st.OutBytes,
			Start: st.Start, End: st.End}
		for stage, dst := range [NumStages]*string{&m.Queue, &m.Exec, &m.Total} {
			h := st.Hist[stage]
			if h == nil || h.TotalCount() == 0 {
				continue
			}
			b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
			if err != nil {
				return nil, fmt.Errorf("metrics: encode %s %s: %w", st.Name(), Stage(stage), err)
			}
			*dst = string(b)
		}
		w.Methods = append(w.Methods, m)
	}
	return json.Marshal(&w)
}

// DecodeSnapshot reads what EncodeSnapshot wrote. Histograms come back with
// their tags and start/end times set as Recorder sets them.
func DecodeSnapshot(b []byte) (Decoded, error) {
	var w wireSnapshot
	if err := json.Unmarshal(b, &w); err != nil {
		return Decoded{}, fmt.Errorf("metrics: decode snapshot: %w", err)
	}
	if w.V != WireVersion {
		return Decoded{}, &VersionError{Got: w.V, Want: WireVersion}
	}
	d := Decoded{Extra: w.Extra, Stats: make([]MethodStats, len(w.Methods))}
	for i, m := range w.Methods {
		st := &d.Stats[i]
		*st = MethodStats{Library: m.Library, Method: m.Method, ID: m.ID, Jobs: m.Jobs, OK: m.OK,
			Errors: m.Errors, Fuel: m.Fuel, InBytes: m.InBytes, OutBytes: m.OutBytes, Start: m.Start, End: m.End}
		for stage, enc := range [NumStages]string{m.Queue, m.Exec, m.Total} {
			if enc == "" {
				continue
			}
			h, err := hdrhistogram.Decode([]byte(enc))
			if err != nil {
				return Decoded{}, fmt.Errorf("metrics: decode %s %s: %w", st.Name(), Stage(stage), err)
			}
			h.SetTag(Tag(m.Library, m.Method, Stage(stage)))
			h.SetStartTimeMs(m.Start.UnixMilli())
			h.SetEndTimeMs(m.End.UnixMilli())
			st.Hist[stage] = h
		}
	}
	return d, nil
}
