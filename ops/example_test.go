package ops_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/ops"
)

func Example() {
	methods := []kernel.MethodInfo{{ID: 0, Library: "image", Method: "invert"}}
	jobs := ops.NewJobMetrics(methods) // kernel.Config.Observer = jobs
	reg := prometheus.NewRegistry()
	reg.MustRegister(jobs, ops.NewBuildInfo(""))

	var warm atomic.Bool
	ready := func() error {
		if !warm.Load() {
			return errors.New("guest pools warming")
		}
		return nil
	}
	srv := ops.NewServer("127.0.0.1:0", reg, nil, ready, nil)
	if err := srv.Start(); err != nil {
		panic(err)
	}
	defer srv.Close(context.Background())

	show := func(path string) {
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%s %d %s", path, resp.StatusCode, body)
	}
	show("/healthz")
	show("/readyz")
	warm.Store(true)
	show("/readyz")
	// Output:
	// /healthz 200 ok
	// /readyz 503 not ready: guest pools warming
	// /readyz 200 ok
}
