//go:build !cgo

package copyprobe

import "errors"
