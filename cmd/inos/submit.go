package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/inos-node/node/client"
)

func cmdSubmit(args []string) error {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	region := fs.String("region", "", "region of the node to submit to")
	library := fs.String("library", "", "library name (e.g. echo)")
	method := fs.String("method", "", "method name (e.g. echo)")
	params := fs.String("params", "{}", "params: JSON text, or @FILE")
	in := fs.String("in", "", "input file (optional)")
	out := fs.String("out", "", "write the job's output to this file (optional)")
	outCap := fs.Int("out-cap", 0, "bytes to reserve for the output (default: the input's size)")
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
				*outCap = len(buf.Bytes)
			}
		}
	}
	if *outCap > 0 {
		ob, err := c.Alloc(*outCap)
		if err != nil {
			return err
		}
		job.Output = ob.Ref
	}
	res, err := c.Call(ctx, job)
	if err != nil {
		return err
	}
	fmt.Printf("job %d: status=%s queue=%s exec=%s fuel=%d output=%d bytes\n", res.JobID, statusName(res), time.Duration(res.QueueNs), time.Duration(res.ExecNs), res.FuelUsed, res.Output.Ref.Length)
	if err := res.Err(); err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, res.Output.Bytes, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func statusName(r client.Result) string {
	if r.Err() == nil {
		return "ok"
	}
	return "error(" + r.Kind.String() + ")"
}
