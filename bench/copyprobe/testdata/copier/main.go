// Command copier makes copies of known sizes when told, through Go's
// runtime.memmove and libc's memcpy, for the copyprobe test: a separate
// process, built with its symbol table (go test strips its own binary).
//
// Each line on stdin is "go N" (copy N bytes with copy()), "engine N" (the
// same from engineCopy, the function the test names as an engine's),
// "libc N" (copy N bytes with memcpy), "wasminit 0" (compile and
// instantiate a wasm module with wazero) or "wasm N" (call its recursive
// function N deep, which makes wazero grow the guest's stack); it answers
// "ok" when done.
package main

/*
#include <string.h>
static void copy_bytes(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
*/
import "C"

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// recursive is a module exporting f(n) = n == 0 ? 0 : f(n-1) + 1.
var recursive = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // type (i32) -> i32
	0x03, 0x02, 0x01, 0x00, // one function
	0x07, 0x05, 0x01, 0x01, 'f', 0x00, 0x00, // export "f"
	0x0a, 0x17, 0x01, 0x15, 0x00,
	0x20, 0x00, 0x45, 0x04, 0x7f, 0x41, 0x00, // if n == 0: 0
	0x05, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x00, 0x41, 0x01, 0x6a, // else f(n-1) + 1
	0x0b, 0x0b,
}

var sink []byte

func main() {
	src := make([]byte, 8<<20)
	dst := make([]byte, 8<<20)
	ctx := context.Background()
	var f api.Function
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var how string
		var n int
		if _, err := fmt.Sscan(in.Text(), &how, &n); err != nil || n > len(src) {
			fmt.Println("bad line")
			continue
		}
		switch how {
		case "go":
			copy(dst[:n], src[:n])
		case "engine":
			engineCopy(dst[:n], src[:n])
		case "libc":
			C.copy_bytes(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), C.size_t(n))
		case "wasminit":
			mod, err := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler()).Instantiate(ctx, recursive)
			if err != nil {
				fmt.Println(err)
				continue
			}
			f = mod.ExportedFunction("f")
		case "wasm":
			if r, err := f.Call(ctx, uint64(n)); err != nil || r[0] != uint64(n) {
				fmt.Println("f:", r, err)
				continue
			}
		}
		sink = dst
		fmt.Println("ok")
	}
}

// engineCopy copies from a function of its own, so that the copy's caller
// is known by name.
//
//go:noinline
func engineCopy(dst, src []byte) { copy(dst, src) }
