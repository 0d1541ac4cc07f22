package slo

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWebhookBody(t *testing.T) {
	type post struct {
		contentType string
		body        map[string]any
	}
	posts := make(chan post, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p post
		p.contentType = r.Header.Get("Content-Type")
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&p.body) != nil {
			w.WriteHeader(http.StatusBadRequest)
		}
		posts <- p
	}))
	defer srv.Close()
	tr, c, _ := newTracker(t, Config{Webhook: srv.URL + "/hook", Node: "node-7"})
	step(tr, c, []MethodInterval{rate("img", "resize", 90, 10, 0)}, nil)
	step(tr, c, []MethodInterval{rate("img", "resize", 100, 0, 0)}, nil)

	want := []map[string]any{
		{"event": "violation", "slo": "success_rate", "library": "img", "method": "resize",
			"target": "> 99.9%", "value": "90.000% (10 of 100 failed)", "limit": 0.999, "measured": 0.9,
			"time": "2025-01-02T03:04:15Z", "interval": "10s", "node": "node-7",
			"message": "img.resize success rate 90.000% (10 of 100 failed) is not above its 99.9% target"},
		{"event": "recovery", "slo": "success_rate", "library": "img", "method": "resize",
			"target": "> 99.9%", "value": "100.000% (0 of 100 failed)", "limit": 0.999, "measured": 1.0,
			"time": "2025-01-02T03:04:25Z", "interval": "10s", "node": "node-7",
			"message": "img.resize success rate 100.000% (0 of 100 failed) is above its 99.9% target again"},
	}
	for i, w := range want {
		select {
		case p := <-posts:
			if p.contentType != "application/json" {
				t.Errorf("post %d: Content-Type %q", i, p.contentType)
			}
			if got, want := mustJSON(p.body), mustJSON(w); got != want {
				t.Errorf("post %d:\n %s\nwant\n %s", i, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("post %d never came", i)
		}
	}
	waitFor(t, "2 sent", func() bool { return tr.Webhook() == WebhookStats{Sent: 2} })
}

func TestWebhookErrorStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer srv.Close()
	tr, c, _ := newTracker(t, Config{Webhook: srv.URL})
	step(tr, c, nil, node(0.1, 0))
	waitFor(t, "1 failed", func() bool { return tr.Webhook() == WebhookStats{Failed: 1} })
}

// TestWebhookHangingServer: a webhook that never answers neither slows
// Evaluate nor Close; posts time out, and a full queue drops events.
func TestWebhookHangingServer(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release) // before srv.Close, which waits for handlers

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Run("timeout", func(t *testing.T) {
		tr, c, _ := newTracker(t, Config{Webhook: srv.URL, WebhookTimeout: 50 * time.Millisecond, Logger: quiet})
		step(tr, c, nil, node(0.1, 0))
		waitFor(t, "1 failed", func() bool { return tr.Webhook() == WebhookStats{Failed: 1} })
		<-arrived
	})
	t.Run("full queue", func(t *testing.T) {
		tr, c, _ := newTracker(t, Config{Webhook: srv.URL, WebhookQueue: 2, WebhookTimeout: time.Minute, Logger: quiet})
		start := time.Now()
		const events = 40
		for i := range events {
			step(tr, c, nil, node(0.1+0.8*float64(i%2), 0)) // violated, recovered, ...
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%d evaluations took %v", events, d)
		}
		<-arrived // one post in flight, hanging
		st := tr.Webhook()
		if st.Sent != 0 || st.Failed != 0 || st.Dropped < events-3 {
			t.Errorf("stats %+v: want at least %d dropped", st, events-3)
		}
		start = time.Now()
		tr.Close()
		if d := time.Since(start); d > time.Second {
			t.Errorf("Close took %v", d)
		}
		if st := tr.Webhook(); st != (WebhookStats{Dropped: events}) {
			t.Errorf("after Close: %+v, want all %d dropped", st, events)
		}
		step(tr, c, nil, node(0.1, 0))
		if st := tr.Webhook(); st.Dropped != events+1 {
			t.Errorf("after Close, an event was not dropped: %+v", st)
		}
	})
}
