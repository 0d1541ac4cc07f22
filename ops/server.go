package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is the node's HTTP endpoint for operators: /metrics, /healthz and
// /readyz (see the package doc for what each answers).
type Server struct {
	addr  string
	reg   *prometheus.Registry
	log   *slog.Logger
	live  probe
	ready probe

	mu    sync.Mutex
	ln    net.Listener
	srv   *http.Server
	done  chan struct{} // closed when Serve returns
	state int           // 0 new, 1 started, 2 closed
}

// Errors of Start, compare with errors.Is.
var (
	ErrStarted = errors.New("ops: server already started")
	ErrClosed  = errors.New("ops: server closed")
)

// NewServer returns a server that will listen on addr (as net.Listen takes
// it; ":0" picks a free port, see Addr) and serve reg. A nil reg is a new
// empty registry, a nil live or ready always passes, a nil log discards.
func NewServer(addr string, reg *prometheus.Registry, live, ready func() error, log *slog.Logger) *Server {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{
		addr:  addr,
		reg:   reg,
		log:   log,
		live:  probe{name: "live", check: live, log: log},
		ready: probe{name: "ready", check: ready, log: log},
	}
}

// Registry returns the registry /metrics serves.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Register adds c to the registry /metrics serves (SLO, breaker, runtime
// collectors); it fails as prometheus.Registry.Register does.
func (s *Server) Register(c prometheus.Collector) error { return s.reg.Register(c) }

// Start listens and serves in the background. It returns once the socket
// is bound, so Addr is known and a request made after Start is answered.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case 1:
		return ErrStarted
	case 2:
		return ErrClosed
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("ops: %w", err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.done = make(chan struct{})
	s.state = 1
	s.log.Info("ops: serving", "addr", ln.Addr().String())
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("ops: serve", "err", err)
		}
	}()
	return nil
}

// Addr returns the address the server listens on ("127.0.0.1:41234" for
// "127.0.0.1:0"), or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Handler returns the server's routes, for tests or to mount them in
// another server.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog:            slogPrintln{s.log},
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            s.reg, // promhttp_metric_handler_errors_total
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	mux.Handle("GET /healthz", &s.live)
	mux.Handle("GET /readyz", &s.ready)
	return mux
}

// Close stops listening and waits, until ctx is done, for requests in
// flight to finish. Closing a server never started does nothing.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	started := s.state == 1
	s.state = 2
	s.mu.Unlock()
	if !started {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.done
	return err
}

// probe answers a health endpoint: 200 "ok" while check passes, 503 and
// the reason while it fails. It logs each change, not each request.
type probe struct {
	name    string
	check   func() error
	log     *slog.Logger
	failing atomic.Bool
}

func (p *probe) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	var err error
	if p.check != nil {
		err = p.check()
	}
	if was := p.failing.Swap(err != nil); was != (err != nil) {
		if err != nil {
			p.log.Warn("ops: "+p.name+" check failing", "err", err)
		} else {
			p.log.Info("ops: " + p.name + " check passing")
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not %s: %v\n", p.name, err)
		return
	}
	fmt.Fprintln(w, "ok")
}

// slogPrintln is promhttp's error logger over slog.
type slogPrintln struct{ log *slog.Logger }

func (l slogPrintln) Println(v ...any) { l.log.Error("ops: metrics", "err", fmt.Sprint(v...)) }
