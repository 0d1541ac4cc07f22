//go:build !cgo

package copyprobe

import "errors"

func libcCopyFuncs() ([]libcFunc, error) {
	return nil, errors.New("copyprobe: libc is not probed: resolving its memcpy needs cgo (dlsym)")
}
