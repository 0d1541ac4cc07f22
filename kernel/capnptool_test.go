package kernel_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inos-node/node/schema"
)

// capnp runs the reference capnp tool (Debian's capnproto) on
// schema/job.capnp. It skips where the tool is missing, except in CI, where
// `make test` installs it and a skip would hide a regression.
func capnp(t *testing.T, stdin []byte, verb, typ string, flags ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("capnp")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("capnp not on PATH in CI: make test should have installed Debian's capnproto")
		}
		t.Skip("capnp not installed: run make test, which installs Debian's capnproto")
	}
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "capnproto.org/go/capnp/v3").Output()
	if err != nil {
		t.Fatalf("locating capnp-go's std/go.capnp: %v", err)
	}
	args := append([]string{verb, "-I" + filepath.Join(strings.TrimSpace(string(dir)), "std")}, flags...)
	cmd := exec.Command(bin, append(args, "../schema/job.capnp", typ)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("capnp %s: %v\n%s", verb, err, stderr.Bytes())
	}
	return out
}

// TestReferenceToolEnvelopes sends the node a JobRequest made by `capnp
// encode` from text, and reads the node's JobResult back with `capnp
// decode`: the node speaks Cap'n Proto as its reference implementation does.
func TestReferenceToolEnvelopes(t *testing.T) {
	name := regionName(t)
	startNode(t, smallConfig(name))
	p := newRawProducer(t, name)
	mem := p.region.Bytes()
	h, in := p.alloc(t, 11)
	copy(mem[in:], "hello, node")

	text := fmt.Sprintf(`(jobId = 4242, library = "echo", method = "echo", params = "{\"greeting\": \"héllo\"}", input = (offset = %d, length = 11, handle = %d))`, in, h)
	msg := capnp(t, []byte(text), "encode", "JobRequest")
	e := p.send(t, msg, 4242)
	if e.Aux != 0 || e.Len == 0 {
		t.Fatalf("node refused the reference tool's envelope: kind %v", schema.ErrorKind(e.Aux))
	}
	out := string(capnp(t, mem[e.Off:e.Off+uint64(e.Len)], "decode", "JobResult", "--short"))
	want := fmt.Sprintf("jobId = 4242, status = ok, output = (offset = %d, length = 11, handle = %d)", in, h)
	if !strings.Contains(out, want) {
		t.Fatalf("capnp decode of the node's result:\n%s\nwant it to contain %q", out, want)
	}

	// A refusal decodes too, with its kind and message.
	bad := capnp(t, []byte(`(jobId = 7, library = "echo", method = "echo", params = "{\"__proto__\": {}}")`), "encode", "JobRequest")
	e = p.send(t, bad, 7)
	out = string(capnp(t, mem[e.Off:e.Off+uint64(e.Len)], "decode", "JobResult", "--short"))
	for _, w := range []string{"jobId = 7", "status = error", "errorKind = invalidParams", `errorMessage = "`} {
		if !strings.Contains(out, w) {
			t.Fatalf("capnp decode of a refusal:\n%s\nwant %q", out, w)
		}
	}
	t.Logf("capnp decode: %s", strings.TrimSpace(out))
}
