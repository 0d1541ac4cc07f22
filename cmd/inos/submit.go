package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/inos-node/node/client"
	"github.com/inos-node/node/schema"
)

func cmdSubmit(args []string) error {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	region := fs.String("region", "", "region of the node to submit to")
	library := fs.String("library", "", "library name (e.g. echo)")
	method := fs.String("method", "", "method name (e.g. echo)")
	params := fs.String("params", "{}", "params: JSON text, or @FILE")
	in := fs.String("in", "", "input file (optional)")
	out := fs.String("out", "", "write the job's output to this file (optional)")
	outCap := fs.Int("out-cap", 0, "bytes to reserve for the output (default: the input's size, at least 64 KiB; a job whose output needs more is retried once with what the library says it needs)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *region == "" || *library == "" || *method == "" {
		return errors.New("--region, --library and --method are required")
	}
	p := []byte(*params)
	if strings.HasPrefix(*params, "@") {
		b, err := os.ReadFile((*params)[1:])
		if err != nil {
			return fmt.Errorf("params: %w", err)
		}
		p = b
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c, err := client.Attach(*region, client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()

	job := client.Job{Library: *library, Method: *method, Params: p, Deadline: time.Now().Add(*timeout)}
	if *in != "" {
		st, err := os.Stat(*in)
		if err != nil {
			return err
		}
		if st.Size() > 0 {
			buf, err := c.Alloc(int(st.Size()))
			if err != nil {
				return err
			}
			f, err := os.Open(*in)
			if err != nil {
				return err
			}
			// The producer writes its input straight into shared memory.
			_, err = f.ReadAt(buf.Bytes, 0)
			f.Close()
			if err != nil {
				return fmt.Errorf("read %s: %w", *in, err)
			}
			job.Input = buf.Ref
			if *outCap == 0 {
				*outCap = max(len(buf.Bytes), 64<<10)
			}
		}
	}
	if *outCap == 0 {
		*outCap = 64 << 10
	}
	res, err := callRetrying(ctx, c, job, *outCap)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "job %d: status=%s queue=%s exec=%s fuel=%d output=%d bytes\n", res.JobID, statusName(res), time.Duration(res.QueueNs), time.Duration(res.ExecNs), res.FuelUsed, res.Output.Ref.Length)
	if err := res.Err(); err != nil {
		return err
	}
	if *out != "" {
		return os.WriteFile(*out, res.Output.Bytes, 0o644)
	}
	printOutput(os.Stdout, res.Output.Bytes)
	return nil
}

// callRetrying runs job with an output buffer of outCap bytes and, if the
// library says the output needs more, once more with as much.
func callRetrying(ctx context.Context, c *client.Client, job client.Job, outCap int) (client.Result, error) {
	for try := 0; ; try++ {
		ob, err := c.Alloc(outCap)
		if err != nil {
			return client.Result{}, fmt.Errorf("output buffer of %d bytes: %w", outCap, err)
		}
		job.Output = ob.Ref
		res, err := c.Call(ctx, job)
		if err != nil || try > 0 || res.Kind != schema.ErrorOutputTooLarge || res.OutputNeeded <= uint64(outCap) {
			return res, err
		}
		c.Free(ob)
		outCap = int(res.OutputNeeded)
	}
}

// printOutput shows an output without --out: text as it is, short binary
// (a digest, a signature) in hex, anything else by its size only.
func printOutput(w io.Writer, b []byte) {
	switch {
	case len(b) == 0:
	case utf8.Valid(b) && !bytes.ContainsFunc(b, func(r rune) bool { return r < ' ' && r != '\n' && r != '\t' }):
		fmt.Fprintf(w, "%s\n", bytes.TrimRight(b, "\n"))
	case len(b) <= 256:
		fmt.Fprintf(w, "%x\n", b)
	default:
		fmt.Fprintf(w, "(%d bytes of binary output: write them with --out FILE)\n", len(b))
	}
}

func statusName(r client.Result) string {
	if r.Err() == nil {
		return "ok"
	}
	return "error(" + r.Kind.String() + ")"
}
