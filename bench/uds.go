package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ServeUDSEcho listens on the Unix socket path and echoes length-prefixed
// frames (8-byte little-endian length, then the bytes) on each connection
// until ctx ends. It is the baseline's server side, run in its own process.
func ServeUDSEcho(ctx context.Context, path string) error {
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go echoConn(conn)
	}
}

func echoConn(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 64<<10)
	w := bufio.NewWriterSize(conn, 64<<10)
	var hdr [8]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.LittleEndian.Uint64(hdr[:])
		if n > 1<<30 {
			return
		}
		if uint64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		w.Write(hdr[:])
		w.Write(buf)
		// Flush only when no further request is already buffered, so a
		// pipelined client gets batched replies and a ping-pong one gets
		// its reply at once.
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

type udsTransport struct {
	conn net.Conn
	r    *bufio.Reader
	stop func() error
	dir  string
	out  []byte // header + payload, sent as one write
	in   []byte
}

func openUDS(ctx context.Context, o RingOptions) (transport, error) {
	if len(o.UDSCommand) == 0 {
		return nil, errors.New("no UDSCommand to start the socket server with")
	}
	dir, err := os.MkdirTemp("", "inos-uds-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "echo.sock")
	stop, err := startChild(append(append([]string{}, o.UDSCommand...), path))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var conn net.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err = net.Dial("unix", path)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			stop()
			os.RemoveAll(dir)
			return nil, fmt.Errorf("socket server did not come up: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &udsTransport{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), stop: stop, dir: dir}, nil
}

func (t *udsTransport) name() string { return "uds" }

func (t *udsTransport) prepare(n int) error {
	t.out = make([]byte, 8+n)
	binary.LittleEndian.PutUint64(t.out, uint64(n))
	for i := 8; i < len(t.out); i++ {
		t.out[i] = byte(i)
	}
	t.in = make([]byte, 8+n)
	return nil
}

func (t *udsTransport) roundTrip(context.Context) error {
	if _, err := t.conn.Write(t.out); err != nil {
		return err
	}
	if _, err := io.ReadFull(t.r, t.in); err != nil {
		return err
	}
	if binary.LittleEndian.Uint64(t.in) != uint64(len(t.in)-8) {
		return errors.New("uds: bad echo frame")
	}
	return nil
}

func (t *udsTransport) pipeline(_ context.Context, depth int, until time.Time) (int64, error) {
	// A writer goroutine keeps depth frames in flight; credits come back
	// as replies are read.
	credits := make(chan struct{}, depth)
	for i := 0; i < depth; i++ {
		credits <- struct{}{}
	}
	stop := make(chan struct{})
	werr := make(chan error, 1)
	var written int64 // the writer's count; read after werr
	go func() {
		w := bufio.NewWriterSize(t.conn, 64<<10)
		for {
			select {
			case <-stop:
				werr <- w.Flush()
				return
			case <-credits:
			}
			w.Write(t.out)
			written++
			if len(credits) == 0 {
				if err := w.Flush(); err != nil {
					werr <- err
					return
				}
			}
		}
	}()
	var done int64
	for {
		if _, err := io.ReadFull(t.r, t.in); err != nil {
			return done, err
		}
		done++
		if done&1023 == 0 && time.Now().After(until) {
			break
		}
		credits <- struct{}{}
	}
	close(stop)
	if err := <-werr; err != nil {
		return done, err
	}
	// Drain what is still in flight.
	for i := done; i < written; i++ {
		if _, err := io.ReadFull(t.r, t.in); err != nil {
			return done, err
		}
	}
	return done, nil
}

func (t *udsTransport) close() error {
	t.conn.Close()
	err := t.stop()
	os.RemoveAll(t.dir)
	return err
}
