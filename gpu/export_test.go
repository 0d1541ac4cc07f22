//go:build cgo

package gpu

// SaxpyWGSL is the library's saxpy kernel, the tuning test's baseline.
const SaxpyWGSL = saxpyWGSL

// LiveJobObjects is the number of objects of the current device that are
// neither cached pipelines, resident buffers nor staging buffers: what jobs
// left behind.
func LiveJobObjects(l *Library) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.eng.gen
	if g == nil {
		return 0
	}
	return g.dev.Live() - int64(g.kept())
}

// DestroyDevice destroys the current device, as a driver reset would lose it.
func DestroyDevice(l *Library) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.eng.gen.dev.Destroy()
}

// SetRingChunk sets the staging buffers' largest size (for the tuning test)
// and returns the previous one.
func SetRingChunk(l *Library, size uint64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := ringChunk
	ringChunk = size
	return old
}

// SetStagedUploads makes uploads go through the staging ring (on) or
// wgpuQueueWriteBuffer (off), and returns the previous setting.
func SetStagedUploads(l *Library, on bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.eng.stagedUploads
	l.eng.stagedUploads = on
	return old
}
