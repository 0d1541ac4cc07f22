package schema

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These tests hold the codec against the reference implementation: the C++
// capnp tool, Debian's capnproto package (scripts/capnp-tools.sh installs it).

// capnpTool returns the capnp binary and the -I flag that lets it resolve
// job.capnp's import of /go.capnp, or skips the test.
func capnpTool(t *testing.T) (bin, include string) {
	t.Helper()
	bin, err := exec.LookPath("capnp")
	if err != nil {
		t.Skip("capnp not installed: run make test, which installs Debian's capnproto")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "capnproto.org/go/capnp/v3").Output()
	if err != nil {
		t.Fatalf("locating the capnp-go module for its std/go.capnp: %v", err)
	}
	return bin, "-I" + filepath.Join(strings.TrimSpace(string(out)), "std")
}

// runCapnp runs `capnp <verb> <flags> job.capnp <type>` with stdin.
func runCapnp(t *testing.T, stdin []byte, verb, typ string, flags ...string) []byte {
	t.Helper()
	bin, include := capnpTool(t)
	args := append([]string{verb, include}, flags...)
	cmd := exec.Command(bin, append(args, "job.capnp", typ)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("capnp %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func TestCapnpToolEncodesRequest(t *testing.T) {
	text := readFile(t, "testdata/request.txt")
	msg := runCapnp(t, text, "encode", "JobRequest")
	want := Request{
		JobID:   18446744073709551615,
		Library: []byte("echo"), Method: []byte("run"),
		Params: []byte(`{"greeting":"héllo","n":[1,2,3]}`),
		Input:  Ref{Offset: 4096, Length: 100},
		Limits: JobLimits{MaxFuel: 1000000, TimeoutNs: 5000000000, MaxOutputBytes: 65536, MaxMemoryPages: 16},
		// Output unset: a null pointer.
		DeadlineUnixNs: 1700000000000000000, SubmitUnixNs: -1,
	}
	var got Request
	must(t, DecodeRequest(msg, DefaultDecodeLimits(), &got))
	if !requestsEqual(&got, &want) {
		t.Fatalf("got %s\nwant %s", short(got), short(want))
	}
	// A single-segment message with near pointers: the zero-allocation path.
	if err := decodeRequestFast(msg, DefaultDecodeLimits(), &got); err != nil {
		t.Fatalf("fast path: %v", err)
	}
}

// TestCapnpToolEncodesLargeRequest: the C++ encoder starts a second segment
// after 8 KiB, so large params arrive as a multi-segment message with far
// pointers, which the fallback must read.
func TestCapnpToolEncodesLargeRequest(t *testing.T) {
	params := `{"blob":"` + strings.Repeat("0123456789", 10_000) + `"}`
	text := `(jobId = 5, library = "big", method = "m", params = "` + strings.ReplaceAll(params, `"`, `\"`) + `", output = (offset = 1, length = 2))`
	msg := runCapnp(t, []byte(text), "encode", "JobRequest")
	if n := le.Uint32(msg) + 1; n < 2 {
		t.Fatalf("capnp wrote %d segment(s); the test wants several", n)
	}
	var got Request
	must(t, DecodeRequest(msg, DefaultDecodeLimits(), &got))
	want := Request{JobID: 5, Library: []byte("big"), Method: []byte("m"), Params: []byte(params), Output: Ref{Offset: 1, Length: 2}}
	if !requestsEqual(&got, &want) {
		t.Fatalf("got %s\nwant %s", short(got), short(want))
	}
}

func TestCapnpToolDecodesResult(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{
			Result{JobID: 42, Status: StatusError, Output: Ref{Offset: 8192, Length: 17}, ErrorKind: ErrorInvalidParams,
				ErrorMessage: []byte(`params: forbidden key "__proto__" at offset 17`), QueueNs: 1500, ExecNs: 250000, FuelUsed: 99, OutputNeeded: 5000},
			`(jobId = 42, status = error, output = (offset = 8192, length = 17, handle = 0), errorKind = invalidParams, ` +
				`errorMessage = "params: forbidden key \"__proto__\" at offset 17", queueNs = 1500, execNs = 250000, fuelUsed = 99, outputNeeded = 5000)`,
		},
		{
			// An empty message is a null pointer, which capnp omits.
			Result{JobID: 1, Status: StatusOK, Output: Ref{Offset: 0, Length: 0}},
			`(jobId = 1, status = ok, output = (offset = 0, length = 0, handle = 0), errorKind = none, queueNs = 0, execNs = 0, fuelUsed = 0, outputNeeded = 0)`,
		},
	}
	for _, tc := range tests {
		out := runCapnp(t, AppendResult(nil, &tc.r), "decode", "JobResult", "--short")
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("capnp decode printed\n%s\nwant\n%s", got, tc.want)
		}
	}
}

func TestCapnpToolDecodesRequest(t *testing.T) {
	r := requestCases()[1].r // typical
	out := runCapnp(t, AppendRequest(nil, &r), "decode", "JobRequest", "--short")
	want := `(jobId = 42, library = "echo", method = "run", params = "{\"a\":1}", ` +
		`input = (offset = 4096, length = 100, handle = 0), output = (offset = 8192, length = 4096, handle = 0), ` +
		`limits = (maxFuel = 1000000, timeoutNs = 5000000000, maxOutputBytes = 65536, maxMemoryPages = 16), ` +
		`deadlineUnixNs = 1700000000000000000, submitUnixNs = 1699999999000000000)`
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("capnp decode printed\n%s\nwant\n%s", got, want)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	must(t, err)
	return b
}
