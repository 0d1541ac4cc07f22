//go:build cgo

package gpu_test

func cgoEnabled() bool { return true }
