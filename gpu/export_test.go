//go:build cgo

package gpu

// LiveJobObjects is the number of objects of the current device that are
// neither cached pipelines nor resident buffers: what jobs left behind.
func LiveJobObjects(l *Library) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.eng.gen
	if g == nil {
		return 0
	}
	return g.dev.Live() - int64(len(g.pipes)+len(g.resident))
}

// DestroyDevice destroys the current device, as a driver reset would lose it.
func DestroyDevice(l *Library) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.eng.gen.dev.Destroy()
}
