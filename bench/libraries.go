package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/inos-node/node/client"
	"github.com/inos-node/node/guests/cryptolib"
	"github.com/inos-node/node/guests/imagelib"
	"github.com/inos-node/node/guests/imagelib/sample"
	"github.com/inos-node/node/guests/sdk"
)

// The image pipeline of the image_pipeline scenario: a 4000×3000 JPEG
// resized with Lanczos3 to exactly 1920×1080 and encoded as JPEG q85.
const (
	pipelineW, pipelineH = 4000, 3000
	pipelineParams       = `{"width":1920,"height":1080,"filter":"lanczos3","format":"jpeg","quality":85}`
	// hashPayload is what the blake3 and sha256 scenarios hash.
	hashPayload = 256 << 20
)

// benchPath is one way of running a scenario's job: through the node into
// a guest ("shm"), the same Go code called in this process ("native"), or
// another program ("vips").
type benchPath struct {
	path, job string
	library   string // the node's library, for its counters ("": not through the node)
	// run runs the job once and returns its output (to check the paths
	// agree) and the fuel it used.
	run func(ctx context.Context) (out []byte, fuel uint64, err error)
}

// libraryScenarios measures the product's libraries against native code:
// the image pipeline in the sandbox, natively and with libvips' vips
// command (when installed), and BLAKE3 and SHA-256 of 256 MiB in the
// sandbox and natively. Each scenario's paths run job by job, interleaved,
// and must give the same output (vips aside: another resampler).
func (s *sandboxRun) libraryScenarios(ctx context.Context) error {
	minJobs, dur := 5, s.o.Duration
	if s.o.Quick {
		minJobs = 2
	}
	if !s.o.wants("image_pipeline") && !s.o.wants("blake3") && !s.o.wants("sha256") {
		return nil
	}
	img := imagelib.Methods()
	photo, err := sample.JPEG(pipelineW, pipelineH, 1, 90)
	if err != nil {
		return err
	}
	in, err := s.c.Alloc(len(photo))
	if err != nil {
		return err
	}
	defer s.c.Free(in)
	copy(in.Bytes, photo)
	out, err := s.c.Alloc(8 << 20)
	if err != nil {
		return err
	}
	defer s.c.Free(out)
	nativeOut := make([]byte, 8<<20)
	paths := []benchPath{
		s.guestPath(client.Job{Library: "image", Method: "resize", Params: []byte(pipelineParams), Input: in.Ref, Output: out.Ref}),
		nativePath("image.resize", img["resize"], pipelineParams, photo, nativeOut),
	}
	if vips, err := exec.LookPath("vips"); err == nil {
		p, cleanup, err := vipsPath(vips, photo)
		if err != nil {
			return err
		}
		defer cleanup()
		paths = append(paths, p)
	} else {
		s.o.Log.Info("vips not installed: the image pipeline runs without its libvips path (apt install libvips-tools)")
	}
	if s.o.wants("image_pipeline") {
		if err := s.compare(ctx, "image_pipeline", len(photo), paths, minJobs, dur); err != nil {
			return err
		}
	}

	big, err := s.c.Alloc(hashPayload)
	if err != nil {
		return err
	}
	defer s.c.Free(big)
	for i := range big.Bytes {
		big.Bytes[i] = byte(i*7 + i>>11)
	}
	digest, err := s.c.Alloc(64)
	if err != nil {
		return err
	}
	defer s.c.Free(digest)
	crypto := cryptolib.Methods()
	nativeDigest := make([]byte, 64)
	for _, m := range []string{"blake3", "sha256"} {
		if !s.o.wants(m) {
			continue
		}
		paths := []benchPath{
			s.guestPath(client.Job{Library: "crypto", Method: m, Input: big.Ref, Output: digest.Ref}),
			nativePath("crypto."+m, crypto[m], `{}`, big.Bytes, nativeDigest),
		}
		if err := s.compare(ctx, m, hashPayload, paths, minJobs, dur); err != nil {
			return err
		}
	}
	return nil
}

// guestPath runs job through the node.
func (s *sandboxRun) guestPath(job client.Job) benchPath {
	return benchPath{path: "shm", job: job.Library + "." + job.Method, library: job.Library, run: func(ctx context.Context) ([]byte, uint64, error) {
		r, err := s.c.Call(ctx, job)
		if err == nil {
			err = r.Err()
		}
		return r.Output.Bytes, r.FuelUsed, err
	}}
}

// nativePath calls a library method in this process: the same Go code the
// guest runs, compiled for this machine.
func nativePath(job string, m sdk.Method, params string, in, out []byte) benchPath {
	return benchPath{path: "native", job: job, run: func(context.Context) ([]byte, uint64, error) {
		n, err := m(&sdk.Call{Method: job, Params: []byte(params), Input: in, Output: out})
		if err != nil {
			return nil, 0, err
		}
		return out[:n], 0, nil
	}}
}

// vipsPath runs the image pipeline with libvips' command-line tool:
// `vips resize` with the Lanczos3 kernel to 1920×1080, JPEG q85. Each job
// is a process, which reads its input from and writes its output to files
// in a temporary directory (on tmpfs where /dev/shm exists).
func vipsPath(vips string, photo []byte) (benchPath, func(), error) {
	dir, err := os.MkdirTemp("/dev/shm", "inos-bench-vips-")
	if err != nil {
		if dir, err = os.MkdirTemp("", "inos-bench-vips-"); err != nil {
			return benchPath{}, nil, err
		}
	}
	cleanup := func() { os.RemoveAll(dir) }
	src, dst := filepath.Join(dir, "in.jpg"), filepath.Join(dir, "out.jpg")
	if err := os.WriteFile(src, photo, 0o600); err != nil {
		cleanup()
		return benchPath{}, nil, err
	}
	hscale := fmt.Sprintf("%.6f", 1920.0/pipelineW)
	vscale := fmt.Sprintf("%.6f", 1080.0/pipelineH)
	return benchPath{path: "vips", job: "vips resize", run: func(ctx context.Context) ([]byte, uint64, error) {
		cmd := exec.CommandContext(ctx, vips, "resize", src, dst+"[Q=85]", hscale, "--vscale", vscale, "--kernel", "lanczos3")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, 0, fmt.Errorf("%v: %s", err, bytes.TrimSpace(msg))
		}
		out, err := os.ReadFile(dst)
		return out, 0, err
	}}, cleanup, nil
}

// compare runs the paths job by job, interleaved, for at least minJobs
// each and dur, checks that the sandboxed and native outputs are equal, and
// adds a row per path: shm's p50 over native's, and native's over vips'.
func (s *sandboxRun) compare(ctx context.Context, scenario string, payload int, paths []benchPath, minJobs int, dur time.Duration) error {
	hs := make([]*hdrhistogram.Histogram, len(paths))
	fuel := make([]uint64, len(paths))
	var first [][]byte
	for i, p := range paths {
		hs[i] = NewHistogram()
		out, f, err := p.run(ctx) // warm up, and keep the output
		if err != nil {
			return fmt.Errorf("%s %s: %w", scenario, p.path, err)
		}
		first, fuel[i] = append(first, bytes.Clone(out)), f
	}
	if paths[0].path == "shm" && paths[1].path == "native" && !bytes.Equal(first[0], first[1]) {
		return fmt.Errorf("%s: the sandbox's output (%d bytes) differs from the native one (%d bytes)", scenario, len(first[0]), len(first[1]))
	}
	before, err := s.stats(ctx)
	if err != nil {
		return err
	}
	end := time.Now().Add(dur)
	for time.Now().Before(end) || hs[0].TotalCount() < int64(minJobs) {
		for i, p := range paths {
			t0 := time.Now()
			if _, _, err := p.run(ctx); err != nil {
				return fmt.Errorf("%s %s: %w", scenario, p.path, err)
			}
			hs[i].RecordValue(int64(time.Since(t0)))
		}
	}
	rows := make([]SandboxRow, len(paths))
	for i, p := range paths {
		h := hs[i]
		rows[i] = SandboxRow{Scenario: scenario, Path: p.path, Job: p.job, PayloadBytes: payload, Fuel: fuel[i],
			Count: h.TotalCount(), P50: h.ValueAtQuantile(50), P99: h.ValueAtQuantile(99), P999: h.ValueAtQuantile(99.9), Max: h.Max()}
		if scenario != "image_pipeline" {
			rows[i].MBPerS = float64(payload) / 1e6 / (float64(rows[i].P50) / 1e9)
		}
	}
	after, err := s.stats(ctx)
	if err != nil {
		return err
	}
	for i, p := range paths {
		if a, ok := after[p.library]; ok && rows[i].Count > 0 {
			b := before[p.library]
			rows[i].MappedPerJob = (a.BytesMapped - b.BytesMapped) / uint64(rows[i].Count)
			rows[i].CopiedPerJob = (a.BytesCopied - b.BytesCopied) / uint64(rows[i].Count)
		}
	}
	rows[0].VsBase, rows[0].Note = float64(rows[0].P50)/float64(rows[1].P50), "p50 over native's"
	if len(rows) > 2 {
		rows[1].VsBase, rows[1].Note = float64(rows[1].P50)/float64(rows[2].P50), "p50 over vips'"
		rows[2].Note = "a vips process per job, files on tmpfs"
	}
	for _, r := range rows {
		s.rep.Add(r)
	}
	return nil
}
