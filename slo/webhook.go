package slo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// WebhookStats counts the webhook's events.
type WebhookStats struct {
	// Sent were answered 2xx; Failed got an error or another status;
	// Dropped found the queue full, or were queued at Close.
	Sent, Failed, Dropped uint64
}

// webhook posts events from a bounded queue on its own goroutine.
type webhook struct {
	url     string
	client  *http.Client
	timeout time.Duration
	log     *slog.Logger

	q      chan Event
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex // orders enqueue against close
	closed bool

	sent, failed, dropped atomic.Uint64
}

func startWebhook(cfg Config) *webhook {
	w := &webhook{url: cfg.Webhook, client: cfg.HTTPClient, timeout: cfg.WebhookTimeout, log: cfg.Logger,
		q: make(chan Event, cfg.WebhookQueue), done: make(chan struct{})}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	go w.run()
	return w
}

// enqueue never blocks: a full queue drops e.
func (w *webhook) enqueue(e Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		w.dropped.Add(1)
		return
	}
	select {
	case w.q <- e:
	default:
		w.dropped.Add(1)
	}
}

func (w *webhook) run() {
	defer close(w.done)
	for {
		select {
		case <-w.ctx.Done():
			return
		case e := <-w.q:
			w.post(&e)
		}
	}
}

func (w *webhook) post(e *Event) {
	body, err := json.Marshal(e)
	if err != nil { // cannot happen: Event has only plain fields
		w.failed.Add(1)
		return
	}
	ctx, cancel := context.WithTimeout(w.ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		w.fail(e, err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "inos-node-slo")
	resp, err := w.client.Do(req)
	if err != nil {
		if w.ctx.Err() != nil { // abandoned by close
			w.dropped.Add(1)
			return
		}
		w.fail(e, err.Error())
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		w.fail(e, "status "+strconv.Itoa(resp.StatusCode))
		return
	}
	w.sent.Add(1)
}

func (w *webhook) fail(e *Event, why string) {
	w.failed.Add(1)
	w.log.LogAttrs(context.Background(), slog.LevelWarn, "slo webhook failed",
		slog.String("url", w.url), slog.String("slo", e.SLO), slog.String("event", e.Kind), slog.String("error", why))
}

func (w *webhook) close() {
	w.once.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		w.cancel()
		<-w.done
		for {
			select {
			case <-w.q:
				w.dropped.Add(1)
			default:
				return
			}
		}
	})
}

func (w *webhook) stats() WebhookStats {
	return WebhookStats{Sent: w.sent.Load(), Failed: w.failed.Load(), Dropped: w.dropped.Load()}
}
