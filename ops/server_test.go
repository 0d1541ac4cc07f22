package ops_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/inos-node/node/ops"
)

// check is a health func whose answer a test sets.
type check struct {
	mu  sync.Mutex
	err error
}

func (c *check) set(err error) { c.mu.Lock(); c.err = err; c.mu.Unlock() }
func (c *check) get() error    { c.mu.Lock(); defer c.mu.Unlock(); return c.err }

// syncBuffer is a log sink the server's goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// testRegistry is a registry with every collector of the package, after a
// few jobs.
func testRegistry(t *testing.T) *prometheus.Registry {
	t.Helper()
	jobs := ops.NewJobMetrics(testMethods)
	for range 3 {
		jobs.Observe(invertOK())
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(jobs, ops.NewNodeCollector(testNode()), ops.NewLibraryCollector(testLibraries()...),
		ops.NewBuildInfo("v0.0.0-test"))
	return reg
}

// startServer starts a server on a free loopback port, closed at the end
// of the test.
func startServer(t *testing.T, reg *prometheus.Registry, live, ready func() error, log *slog.Logger) *ops.Server {
	t.Helper()
	s := ops.NewServer("127.0.0.1:0", reg, live, ready, log)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestHealthEndpoints(t *testing.T) {
	var live, ready check
	ready.set(errors.New("guests compiling"))
	var logs syncBuffer
	s := startServer(t, nil, live.get, ready.get, slog.New(slog.NewTextHandler(&logs, nil)))
	base := "http://" + s.Addr()

	expect := func(path string, code int, body string) {
		t.Helper()
		if c, b := get(t, "GET", base+path); c != code || b != body {
			t.Errorf("GET %s: %d %q, want %d %q", path, c, b, code, body)
		}
	}
	expect("/healthz", 200, "ok\n")
	expect("/readyz", 503, "not ready: guests compiling\n")
	expect("/readyz", 503, "not ready: guests compiling\n")
	ready.set(nil)
	expect("/readyz", 200, "ok\n")
	live.set(errors.New("dispatcher heartbeat 12s old"))
	expect("/healthz", 503, "not live: dispatcher heartbeat 12s old\n")
	live.set(nil)
	expect("/healthz", 200, "ok\n")
	expect("/nothing", 404, "404 page not found\n")
	if c, _ := get(t, "POST", base+"/healthz"); c != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d", c)
	}
	if c, _ := get(t, "HEAD", base+"/readyz"); c != 200 {
		t.Errorf("HEAD /readyz: %d", c)
	}

	// One line per change, not per request.
	l := logs.String()
	if n := strings.Count(l, "ready check failing"); n != 1 {
		t.Errorf("%d 'ready check failing' lines:\n%s", n, l)
	}
	for _, s := range []string{"ready check passing", "live check failing", "live check passing"} {
		if strings.Count(l, s) != 1 {
			t.Errorf("want one %q line:\n%s", s, l)
		}
	}
}

func TestMetricsEndpoint(t *testing.T) {
	s := startServer(t, testRegistry(t), nil, nil, nil)
	code, body := get(t, "GET", "http://"+s.Addr()+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	for _, want := range []string{
		`inos_jobs_total{library="image",method="invert",outcome="ok"} 3`,
		`inos_job_duration_seconds_bucket{library="image",method="invert",stage="exec",le="0.0025"} 3`,
		`inos_inbox_depth 7`,
		`inos_guest_instances{library="image",state="idle"} 2`,
		`inos_up 1`,
		`inos_build_info{goversion="go`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in\n%s", want, body)
		}
	}
}

func TestServerLifecycle(t *testing.T) {
	s := ops.NewServer("127.0.0.1:0", nil, nil, nil, nil)
	if s.Addr() != "" {
		t.Errorf("Addr before Start: %q", s.Addr())
	}
	if err := s.Register(prometheus.NewCounter(prometheus.CounterOpts{Name: "extra_total", Help: "x"})); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); !errors.Is(err, ops.ErrStarted) {
		t.Errorf("second Start: %v", err)
	}
	addr := s.Addr()
	if _, body := get(t, "GET", "http://"+addr+"/metrics"); !strings.Contains(body, "extra_total 0") {
		t.Errorf("a registered collector is not served:\n%s", body)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("still serving after Close")
	}
	if err := s.Start(); !errors.Is(err, ops.ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
	if err := ops.NewServer("256.0.0.1:0", nil, nil, nil, nil).Start(); err == nil {
		t.Error("Start on a bad address succeeded")
	}
}
