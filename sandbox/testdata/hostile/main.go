// Command hostile is a test guest (built by the sandbox tests) whose
// methods misbehave on purpose, each in one way a limit must stop, plus
// well-behaved ones the tests check the library still serves afterwards.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"github.com/inos-node/node/guests/sdk"
)

func init() {
	sdk.Serve(sdk.Methods{
		"copy": func(c *sdk.Call) (int, error) { // output = input
			if err := c.NeedOutput(len(c.Input)); err != nil {
				return 0, err
			}
			return copy(c.Output, c.Input), nil
		},
		"params": sdk.Typed(func(c *sdk.Call, p *struct {
			Width  int    `json:"width"`
			Filter string `json:"filter"`
		}) (int, error) {
			return 0, nil
		}),
		"spin": func(*sdk.Call) (int, error) { // loops forever
			x := uint64(1)
			for x != 0 {
				x = x*6364136223846793005 + 1442695040888963407
			}
			return 0, nil
		},
		"grow": func(*sdk.Call) (int, error) { // allocates without end
			for {
				keep = append(keep, make([]byte, 1<<20))
			}
		},
		"garbage": func(*sdk.Call) (int, error) { // 1 MiB of garbage a call
			b := make([]byte, 1<<20)
			b[len(b)-1] = 1
			return 0, nil
		},
		"panic": func(*sdk.Call) (int, error) { panic("guest bug") }, // recovered by the SDK
		"exit":  func(*sdk.Call) (int, error) { os.Exit(3); return 0, nil },
		"fatal": func(*sdk.Call) (int, error) { // an unrecoverable Go runtime error
			var m map[int]int
			done := make(chan bool)
			go func() { m[1] = 1; done <- true }()
			<-done
			return 0, nil
		},
		"oob": func(c *sdk.Call) (int, error) { // reads past the end of its memory
			p := (*byte)(unsafe.Add(unsafe.Pointer(nil), uintptr(0xfffffff0)))
			return int(*p), nil
		},
		"liar": func(c *sdk.Call) (int, error) { return len(c.Output) + 1, nil }, // claims more output than it may
		// peek copies its input window, from a page before the input to a
		// page after it, to the output: whatever the host left there.
		"peek": func(c *sdk.Call) (int, error) {
			if len(c.Input) == 0 {
				return 0, nil
			}
			start := (uintptr(unsafe.Pointer(&c.Input[0])) &^ 4095) - 4096
			n := len(c.Input) + 3*4096
			win := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), start)), n)
			if err := c.NeedOutput(n); err != nil {
				return 0, err
			}
			return copy(c.Output, win), nil
		},
		// hunt counts the bytes equal to p.Byte in [from, from+len) past the
		// start of its input window's page (where the host placed the
		// input: the output window follows the input window), and says
		// how many in its error message, even with no output buffer.
		"hunt": sdk.Typed(func(c *sdk.Call, p *struct {
			From, Len int
			Byte      byte
		}) (int, error) {
			if len(c.Input) == 0 {
				return 0, errors.New("hunt needs an input to find its windows")
			}
			start := (uintptr(unsafe.Pointer(&c.Input[0])) &^ 4095) + uintptr(p.From)
			win := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), start)), p.Len)
			return 0, fmt.Errorf("found %d", bytes.Count(win, []byte{p.Byte}))
		}),
		"scribble": func(c *sdk.Call) (int, error) { // writes over its input
			for i := range c.Input {
				c.Input[i] = 0xEE
			}
			return 0, nil
		},
	})
}

var keep [][]byte

func main() {}
