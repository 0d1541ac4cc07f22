package ops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inos-node/node/internal/nodetest"
)

// lookTool finds a command of Debian's prometheus package, or skips the
// test saying how to get it.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not in PATH: install Debian's prometheus package (scripts/apt-ensure.sh promtool:prometheus)", name)
	}
	return p
}

// TestPromtoolCheckMetrics lints a real scrape of the server with
// `promtool check metrics`: exposition format, naming (units, _total),
// help texts.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := lookTool(t, "promtool")
	s := startServer(t, testRegistry(t), nil, nil, nil)
	code, body := get(t, "GET", "http://"+s.Addr()+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d", code)
	}
	// Control: this promtool does lint (a counter without _total, a
	// gauge in milliseconds), so its silence below means something.
	ctl := exec.Command(promtool, "check", "metrics")
	ctl.Stdin = strings.NewReader("# HELP a_seconds a\n# TYPE a_seconds counter\na_seconds 1\n" +
		"# HELP b_milliseconds b\n# TYPE b_milliseconds gauge\nb_milliseconds 1\n")
	if out, err := ctl.CombinedOutput(); err == nil || !bytes.Contains(out, []byte("_total")) {
		t.Fatalf("promtool passed a bad exposition: %v\n%s", err, out)
	}

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	t.Logf("promtool check metrics over %d bytes, %d lines: exit %v, output %q",
		len(body), strings.Count(body, "\n"), cmd.ProcessState.ExitCode(), out)
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestPrometheusScrapes runs a real Prometheus server that scrapes the
// node's endpoint every second, and queries what it stored.
func TestPrometheusScrapes(t *testing.T) {
	prom := lookTool(t, "prometheus")
	s := startServer(t, testRegistry(t), nil, nil, nil)

	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: inos
    static_configs:
      - targets: [%q]
`, s.Addr())
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := nodetest.FreeAddr(t)
	var log bytes.Buffer
	cmd := exec.Command(prom,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("prometheus did not stop within 10s of SIGTERM")
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})

	start := time.Now()
	api := "http://" + promAddr + "/api/v1/query?query="
	for _, q := range []struct{ query, want string }{
		{`inos_jobs_total{library="image",method="invert",outcome="ok"}`, "3"},
		{`inos_job_duration_seconds_count{library="image",method="invert",stage="exec"}`, "3"},
		{`inos_heap_efficiency`, "0.875"},
		{`up{job="inos"}`, "1"},
	} {
		got, err := pollQuery(api+url.QueryEscape(q.query), q.want, start.Add(20*time.Second))
		if err != nil {
			t.Fatalf("%s: %v", q.query, err)
		}
		t.Logf("after %v: %s → %s", time.Since(start).Round(time.Millisecond), q.query, got)
	}
	stop()
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("prometheus exited %d after SIGTERM", code)
	}
}

// pollQuery queries until the single sample's value is want or the
// deadline passes; it returns the sample as Prometheus gave it.
func pollQuery(u, want string, deadline time.Time) (string, error) {
	var last string
	for {
		if s, v, err := query(u); err != nil {
			last = err.Error()
		} else if v == want {
			return s, nil
		} else {
			last = s
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no sample of value %s in time; last: %s", want, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func query(u string) (sample, value string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", "", err
	}
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		return "", "", fmt.Errorf("%s: %s", resp.Status, body)
	}
	if len(r.Data.Result) != 1 {
		return string(body), "", nil
	}
	v, _ := r.Data.Result[0].Value[1].(string)
	return string(body), v, nil
}
