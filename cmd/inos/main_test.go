package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // the checks decode the outputs
	_ "image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/inos-node/node/bench"
	"github.com/inos-node/node/bench/copyprobe"
	"github.com/inos-node/node/client"
	"github.com/inos-node/node/guests/imagelib/sample"
	"github.com/inos-node/node/internal/nodetest"
	"github.com/inos-node/node/schema"
)

// TestMain lets the tests run this test binary as the inos command
// (INOS_TEST_MAIN=1), so that they drive real processes.
func TestMain(m *testing.M) {
	if os.Getenv("INOS_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// inos returns the command running this binary as inos with args.
func inos(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "INOS_TEST_MAIN=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// startRun starts `inos run args...`, stopped with SIGTERM at the test's end.
func startRun(t *testing.T, args ...string) {
	t.Helper()
	node := inos(append([]string{"run"}, args...)...)
	node.Stderr = os.Stderr
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		node.Process.Signal(syscall.SIGTERM)
		node.Wait()
	})
}

// TestSubmitEveryMethod starts `inos run` and submits a job for every
// method of the image and crypto libraries with `inos submit`, from
// files, with params as JSON (text and @FILE); bad jobs exit non-zero
// with the error kind and the reason.
func TestSubmitEveryMethod(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and compiles the guests")
	}
	dir := t.TempDir()
	region := fmt.Sprintf("submit-%d", os.Getpid())
	startRun(t, "--region", region, "--heap-mib", "128", "--log-level", "warn", "--cache-dir", filepath.Join(dir, "cache"))
	c, err := bench.AttachRetry(context.Background(), region, client.Options{}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	jpg, err := sample.JPEG(320, 240, 2, 85)
	if err != nil {
		t.Fatal(err)
	}
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	photo := file("photo.jpg", jpg)
	msg := file("msg.txt", []byte("a message to hash, sign and seal\n"))
	resizeParams := file("resize.json", []byte(`{"width": 100, "format": "png"}`))
	const seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	const key = "000102030405060708090a0b0c0d0e0f"

	submit := func(lib, method, params, in string) (stdout, stderr string, out []byte, err error) {
		outFile := filepath.Join(dir, lib+"."+method+".out")
		os.Remove(outFile)
		args := []string{"submit", "--region", region, "--library", lib, "--method", method, "--params", params, "--out", outFile}
		if in != "" {
			args = append(args, "--in", in)
		}
		cmd := inos(args...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		out, _ = os.ReadFile(outFile)
		return o.String(), e.String(), out, err
	}
	isImage := func(format string) func([]byte) error {
		return func(b []byte) error {
			_, f, err := image.DecodeConfig(bytes.NewReader(b))
			if err == nil && f != format {
				err = fmt.Errorf("a %s image, want %s", f, format)
			}
			return err
		}
	}
	size := func(n int) func([]byte) error {
		return func(b []byte) error {
			if len(b) != n {
				return fmt.Errorf("%d bytes, want %d", len(b), n)
			}
			return nil
		}
	}
	var sig []byte
	var sealed string
	cases := []struct {
		lib, method string
		params      func() string
		in          string
		check       func([]byte) error
	}{
		{"image", "info", constant(`{}`), photo, func(b []byte) error {
			if !strings.Contains(string(b), `"width":320`) {
				return fmt.Errorf("info: %s", b)
			}
			return nil
		}},
		{"image", "resize", constant("@" + resizeParams), photo, isImage("png")},
		{"image", "crop", constant(`{"x":10,"y":10,"width":50,"height":40}`), photo, isImage("jpeg")},
		{"image", "blur", constant(`{"sigma":2}`), photo, isImage("jpeg")},
		{"image", "brighten", constant(`{"percent":10}`), photo, isImage("jpeg")},
		{"image", "contrast", constant(`{"percent":10}`), photo, isImage("jpeg")},
		{"image", "grayscale", constant(`{"format":"png"}`), photo, isImage("png")},
		{"image", "rotate90", constant(`{}`), photo, isImage("jpeg")},
		{"image", "rotate180", constant(`{}`), photo, isImage("jpeg")},
		{"image", "rotate270", constant(`{}`), photo, isImage("jpeg")},
		{"image", "fliph", constant(`{}`), photo, isImage("jpeg")},
		{"image", "flipv", constant(`{}`), photo, isImage("jpeg")},
		{"image", "invert", constant(`{}`), photo, isImage("jpeg")},
		{"image", "batch", constant(`{"operations":[{"op":"resize","width":64},{"op":"invert"}],"format":"png"}`), photo, isImage("png")},
		{"crypto", "sha256", constant(`{}`), msg, size(32)},
		{"crypto", "sha512", constant(`{}`), msg, size(64)},
		{"crypto", "blake3", constant(`{}`), msg, size(32)},
		{"crypto", "ed25519_public_key", constant(`{"private_key":"` + seed + `"}`), "", size(32)},
		{"crypto", "ed25519_sign", constant(`{"private_key":"` + seed + `"}`), msg, func(b []byte) error { sig = b; return size(64)(b) }},
		{"crypto", "ed25519_verify", func() string {
			return fmt.Sprintf(`{"public_key":"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a","signature":"%x"}`, sig)
		}, msg, func(b []byte) error {
			if string(b) != `{"valid":true}` {
				return fmt.Errorf("verify: %s", b)
			}
			return nil
		}},
		{"crypto", "aes_encrypt", constant(`{"key":"` + key + `"}`), msg, func(b []byte) error { sealed = file("sealed", b); return nil }},
		{"crypto", "aes_decrypt", constant(`{"key":"` + key + `"}`), "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.lib+"."+tc.method, func(t *testing.T) {
			in := tc.in
			if tc.method == "aes_decrypt" {
				in = sealed
			}
			stdout, stderr, out, err := submit(tc.lib, tc.method, tc.params(), in)
			if err != nil {
				t.Fatalf("%v\nstdout: %s\nstderr: %s", err, stdout, stderr)
			}
			if !strings.Contains(stderr, "status=ok") {
				t.Fatalf("stderr: %s", stderr)
			}
			if tc.method == "aes_decrypt" {
				want, _ := os.ReadFile(msg)
				if !bytes.Equal(out, want) {
					t.Fatalf("decrypted %q, want %q", out, want)
				}
				return
			}
			if err := tc.check(out); err != nil {
				t.Fatal(err)
			}
		})
	}

	for _, tc := range []struct {
		name, lib, method, params, in string
		want                          []string
	}{
		{"bad params", "image", "blur", `{"sigma":"much"}`, photo, []string{"invalidParams", "sigma"}},
		{"params not JSON", "image", "blur", `{sigma:2}`, photo, []string{"invalidParams"}},
		{"not an image", "image", "resize", `{"width":10}`, msg, []string{"invalidInput"}},
		{"unknown method", "image", "sharpen", `{}`, photo, []string{"unknownMethod", "sharpen"}},
		{"unknown library", "video", "encode", `{}`, photo, []string{"unknownLibrary", "video"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, _, err := submit(tc.lib, tc.method, tc.params, tc.in)
			if err == nil {
				t.Fatalf("exit status 0 for a bad job; stderr: %s", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Fatalf("stderr %q does not say %q", stderr, w)
				}
			}
			t.Logf("%s", strings.TrimSpace(stderr))
		})
	}
}

func constant(s string) func() string { return func() string { return s } }

// TestZeroCopyProof runs `inos bench zerocopy` (a binary built with its
// symbols: the probe finds runtime.memmove by name) and checks what its
// eBPF probe counted: no bulk copy on the shared-memory path at any payload
// size, and the copy-in/copy-out baseline's copies, which show that the
// probe sees copies where there are some. Skipped where the kernel refuses
// eBPF.
func TestZeroCopyProof(t *testing.T) {
	if testing.Short() {
		t.Skip("builds inos and starts a node")
	}
	if err := copyprobe.Check(); errors.Is(err, copyprobe.ErrNotPermitted) {
		t.Skipf("eBPF is not permitted here (needs root, or CAP_BPF and CAP_PERFMON): %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "inos")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "bench", "zerocopy", "--json", "--jobs", "3", "--cache-dir", filepath.Join(dir, "cache"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("inos bench zerocopy: %v\n%s", err, stderr.String())
	}
	rows := 0
	dec := json.NewDecoder(&stdout)
	for {
		var r bench.ZeroCopyRow
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rows++
		t.Logf("%-20s %-4s %9d B: %.2f bulk copies/job, %.0f B/job (guest-internal %.2f, stack moves %.2f)", r.Job, r.Path, r.PayloadBytes, r.CopiesPerJob, r.BytesCopiedPerJob, r.GuestCopiesPerJob, r.EngineCopiesPerJob)
		want := 1.0 // the input copied in
		if strings.HasSuffix(r.Job, ".invert") {
			want = 2 // and the output copied out
		}
		switch {
		case r.Path == "shm" && r.CopiesPerJob != 0:
			t.Errorf("%s, %d B: %.2f bulk copies per job on the shared-memory path, want 0", r.Job, r.PayloadBytes, r.CopiesPerJob)
		case r.Path == "copy" && r.CopiesPerJob < want:
			t.Errorf("%s, %d B: the probe saw %.2f bulk copies per job on the copy path, want at least %v", r.Job, r.PayloadBytes, r.CopiesPerJob, want)
		}
	}
	if rows != 30 { // 5 payload sizes × 3 jobs × 2 paths
		t.Fatalf("%d rows, want 30", rows)
	}
}

// TestRunObservability starts `inos run` with its HTTP endpoint and HDR
// logs, pushes jobs through it, and checks what operators read: /readyz and
// /healthz, /metrics, `inos stats` (the percentile table, the SLOs, the
// breakers, the chart), the HdrHistogram log, and a circuit breaker that
// opens on failing jobs and refuses the next one at once.
func TestRunObservability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	dir := t.TempDir()
	addr := nodetest.FreeAddr(t)
	region := fmt.Sprintf("obs-%d", os.Getpid())
	cfgFile := filepath.Join(dir, "inos.toml")
	// A config file, with flags over it: the breaker opens after 5 of 10.
	if err := os.WriteFile(cfgFile, []byte("[breaker]\nwindow = 10\nmin_jobs = 5\ncooldown = \"1m\"\n[metrics]\ninterval = \"1s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	startRun(t, "--config", cfgFile, "--region", region, "--heap-mib", "128", "--log-level", "warn",
		"--cache-dir", filepath.Join(dir, "cache"), "--metrics-addr", addr, "--hdr-log-dir", filepath.Join(dir, "hlog"))
	get := func(path string) (int, string) {
		r, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := get("/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	c, err := client.Attach(region, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in, _ := c.Alloc(64 << 10)
	out, _ := c.Alloc(64)
	ctx := context.Background()
	for i := 0; i < 25; i++ {
		r, err := c.Call(ctx, client.Job{Library: "crypto", Method: "sha256", Input: in.Ref, Output: out.Ref})
		if err != nil || r.Err() != nil {
			t.Fatal(err, r.Err())
		}
	}
	// Jobs that run out of fuel fail through the library: the breaker opens.
	var last client.Result
	for i := 0; i < 6; i++ {
		last, err = c.Call(ctx, client.Job{Library: "bench", Method: "work", Params: []byte(`{"rounds":100000000}`), Output: out.Ref, Limits: schema.JobLimits{MaxFuel: 100_000}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if last.Kind != schema.ErrorUnavailable || !strings.Contains(last.Message, "circuit breaker") {
		t.Fatalf("after 5 failures: %v %q, want libraryUnavailable from the breaker", last.Kind, last.Message)
	}
	t.Logf("refused: %s", last.Message)

	code, body := get("/metrics")
	for _, want := range []string{
		`inos_jobs_total{library="crypto",method="sha256",outcome="ok"} 25`,
		`inos_jobs_total{library="bench",method="work",outcome="resourceExhausted"} 5`,
		`inos_breaker_state{library="bench"} 2`,
		`inos_job_duration_seconds_count{library="crypto",method="sha256",stage="exec"} 25`,
		`inos_guest_instances{library="image",state="idle"} 1`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %s", code, want)
		}
	}

	plot := filepath.Join(dir, "latency.svg")
	var stdout, stderr bytes.Buffer
	st := inos("stats", "--region", region, "--plot", plot)
	st.Stdout, st.Stderr = &stdout, &stderr
	if err := st.Run(); err != nil {
		t.Fatalf("inos stats: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"crypto.sha256", "Percentile TotalCount 1/(1-Percentile)", "#[Max", "latency_p95", "bench      open"} {
		if !strings.Contains(stdout.String(), want) && !strings.Contains(stdout.String(), strings.ReplaceAll(want, "latency_p95", "p95")) {
			t.Errorf("inos stats output lacks %q:\n%s", want, stdout.String())
		}
	}
	if b, err := os.ReadFile(plot); err != nil || !strings.Contains(string(b), "<svg") {
		t.Errorf("chart: %v", err)
	}

	// The HDR interval log: the node writes one every metrics interval;
	// wait for the interval that holds the jobs (up to 15 s on a busy
	// machine, rather than a fixed sleep).
	var count int64
	for deadline := time.Now().Add(15 * time.Second); ; {
		var err error
		count, err = hlogCount(filepath.Join(dir, "hlog"), "crypto.sha256.exec")
		if count >= 25 || time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("HDR interval log: %v", err)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if count != 25 {
		t.Errorf("the HDR log holds %d crypto.sha256 exec samples, want 25", count)
	}
}

// hlogCount sums the samples tagged tag in the HDR interval logs in dir,
// read with hdrhistogram-go's own log reader, and returns the first error
// it met (no log yet counts as one).
func hlogCount(dir, tag string) (int64, error) {
	logs, _ := filepath.Glob(filepath.Join(dir, "*.hlog"))
	if len(logs) == 0 {
		return 0, errors.New("no HDR interval log")
	}
	var count int64
	for _, name := range logs {
		f, err := os.Open(name)
		if err != nil {
			return count, err
		}
		r := hdrhistogram.NewHistogramLogReader(f)
		for {
			h, err := r.NextIntervalHistogram()
			if err != nil {
				f.Close()
				return count, fmt.Errorf("%s: %w", name, err)
			}
			if h == nil {
				break
			}
			if h.Tag() == tag {
				count += h.TotalCount()
			}
		}
		f.Close()
	}
	return count, nil
}
