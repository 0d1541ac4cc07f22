package metrics_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/metrics"
	"github.com/inos-node/node/schema"
)

func TestSnapshotRoundTrip(t *testing.T) {
	r := metrics.NewRecorder(testMethods)
	rng := rand.New(rand.NewPCG(9, 10))
	fill(r, rng, 2000, 12, 0, 2)
	ev := kernel.JobEvent{Method: 2, Kind: schema.ErrorDeadlineExceeded, ExecNs: 9e6, FuelUsed: 11, InputBytes: 3, OutputBytes: 4}
	r.Observe(&ev)
	snap := r.Snapshot()
	extra := metrics.Extra{Node: "n1", Uptime: 90 * time.Minute, Taken: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		SLO:      []metrics.SLOLine{{Name: "crypto.blake3 p99", Target: "< 5ms", Value: "3.1ms", OK: true}},
		Breakers: map[string]string{"image": "open"}}
	b, err := metrics.EncodeSnapshot(snap, extra)
	if err != nil {
		t.Fatal(err)
	}
	d, err := metrics.DecodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.Extra.Node != "n1" || d.Extra.Uptime != 90*time.Minute || !d.Extra.Taken.Equal(extra.Taken) ||
		len(d.Extra.SLO) != 1 || d.Extra.SLO[0] != extra.SLO[0] || d.Extra.Breakers["image"] != "open" {
		t.Errorf("extra = %+v, want %+v", d.Extra, extra)
	}
	// Methods without jobs (image.invert, -.-) are left out.
	if len(d.Stats) != 2 {
		t.Fatalf("decoded %d methods, want 2", len(d.Stats))
	}
	for _, got := range d.Stats {
		want := snap[got.ID]
		if got.Name() != want.Name() || got.Jobs != want.Jobs || got.OK != want.OK || got.Fuel != want.Fuel ||
			got.InBytes != want.InBytes || got.OutBytes != want.OutBytes || !got.Start.Equal(want.Start) || !got.End.Equal(want.End) {
			t.Errorf("%s: decoded %+v, want %+v", want.Name(), got, want)
		}
		if fmt.Sprint(got.Errors) != fmt.Sprint(want.Errors) {
			t.Errorf("%s: errors %v, want %v", want.Name(), got.Errors, want.Errors)
		}
		for s := range got.Hist {
			g, w := got.Hist[s], want.Hist[s]
			if (g == nil) != (w == nil) || (g != nil && (!g.Equals(w) || g.Tag() != w.Tag())) {
				t.Errorf("%s %s: histograms differ", want.Name(), metrics.Stage(s))
			}
		}
	}
}

// TestSnapshotSize: a node of 40 busy methods, every stage spread over
// five decades, must travel in well under 1 MiB.
func TestSnapshotSize(t *testing.T) {
	methods := make([]kernel.MethodInfo, 40)
	ids := make([]kernel.MethodID, len(methods))
	for i := range methods {
		methods[i] = kernel.MethodInfo{ID: kernel.MethodID(i), Library: fmt.Sprintf("lib%02d", i/4), Method: fmt.Sprintf("method%d", i%4)}
		ids[i] = kernel.MethodID(i)
	}
	r := metrics.NewRecorder(methods)
	rng := rand.New(rand.NewPCG(11, 12))
	fill(r, rng, 5000, 13, ids...)
	b, err := metrics.EncodeSnapshot(r.Snapshot(), metrics.Extra{Node: "big"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("40 methods × 3 stages × 5000 jobs: %d bytes (%.1f KB per method)", len(b), float64(len(b))/40/1024)
	if len(b) > 256<<10 {
		t.Errorf("snapshot is %d bytes, want under 256 KiB", len(b))
	}
}

func TestDecodeSnapshotErrors(t *testing.T) {
	var ve *metrics.VersionError
	cases := []struct {
		name  string
		in    string
		check func(error) bool
	}{
		{"not json", "{", func(err error) bool { return err != nil }},
		{"other version", `{"v":2,"methods":[]}`, func(err error) bool { return errors.As(err, &ve) && ve.Got == 2 }},
		{"no version", `{"methods":[]}`, func(err error) bool { return errors.As(err, &ve) && ve.Got == 0 }},
		{"bad histogram", `{"v":1,"methods":[{"lib":"a","method":"b","id":0,"jobs":1,"exec":"HISTnotbase64!"}]}`,
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "a.b exec") }},
		{"empty", `{"v":1,"methods":[]}`, func(err error) bool { return err == nil }},
	}
	for _, tc := range cases {
		_, err := metrics.DecodeSnapshot([]byte(tc.in))
		if !tc.check(err) {
			t.Errorf("%s: DecodeSnapshot = %v", tc.name, err)
		}
	}
}
