// Command copier makes copies of known sizes when told, through Go's
// runtime.memmove and libc's memcpy, for the copyprobe test: a separate
// process, built with its symbol table (go test strips its own binary).
//
// Each line on stdin is "go N" (copy N bytes with copy()) or "libc N"
// (copy N bytes with memcpy); it answers "ok" when done.
package main

/*
#include <string.h>
static void copy_bytes(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
*/
import "C"

import (
	"bufio"
	"fmt"
	"os"
	"unsafe"
)

var sink []byte

func main() {
	src := make([]byte, 8<<20)
	dst := make([]byte, 8<<20)
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
		case "libc":
			C.copy_bytes(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), C.size_t(n))
		}
		sink = dst
		fmt.Println("ok")
	}
}
