//go:build cgo

package copyprobe

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

static uintptr_t resolve(const char *name) { return (uintptr_t)dlsym(RTLD_DEFAULT, name); }
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// libcCopyFuncs resolves memcpy and memmove in this process (dlsym runs
// the IFUNC resolvers) and returns where their implementations lie in
// libc's file.
func libcCopyFuncs() ([]libcFunc, error) {
	var out []libcFunc
	for _, name := range []string{"memcpy", "memmove"} {
		cs := C.CString(name)
		addr := uint64(C.resolve(cs))
		C.free(unsafe.Pointer(cs))
		if addr == 0 {
			return nil, fmt.Errorf("copyprobe: dlsym(%s) found nothing", name)
		}
		path, off, err := fileOffset(addr)
		if err != nil {
			return nil, err
		}
		out = append(out, libcFunc{name: name, path: path, offset: off})
	}
	return out, nil
}
