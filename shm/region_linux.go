package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DefaultDir is where regions live: tmpfs, so pages are memory and futexes
// on them are shared between every process that maps the file.
const DefaultDir = "/dev/shm"

var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Options configure Create and Attach.
type Options struct {
	// Dir holds the region and lock files; "" means DefaultDir.
	Dir string
	// Logger receives events such as a stale region being reclaimed; nil
	// means slog.Default().
	Logger *slog.Logger
}

func (o Options) dir() string {
	if o.Dir == "" {
		return DefaultDir
	}
	return o.Dir
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}

// Region is one mapping of a shared region. The node's Region (from Create)
// owns the name; a producer's (from Attach) only maps it. Close releases the
// mapping and, for the node, the name.
type Region struct {
	name   string
	path   string
	mem    []byte
	layout Layout
	file   *os.File // the region file, kept open: libraries map its pages into guests
	lock   *os.File // node only
	log    *slog.Logger
	closed bool
}

// Path returns the region file's path for name under opts.
func Path(name string, opts Options) string {
	return filepath.Join(opts.dir(), "inos-"+name)
}

// Create makes a new region for a node and maps it. It fails with ErrBusy
// when a live node already serves name. A region left by a dead node is
// replaced, never reused; the event is logged.
func Create(name string, cfg LayoutConfig, opts Options) (*Region, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("shm: invalid region name %q (want 1-64 of [A-Za-z0-9_.-])", name)
	}
	l, err := NewLayout(cfg)
	if err != nil {
		return nil, err
	}
	log := opts.logger()
	path := Path(name, opts)
	lock, err := lockName(name, path)
	if err != nil {
		return nil, err
	}
	// Under the lock nobody else creates this name: temporary files left
	// by a node that died mid-create are debris.
	if tmps, _ := filepath.Glob(path + ".*.tmp"); len(tmps) > 0 {
		for _, t := range tmps {
			os.Remove(t)
		}
		log.Warn("removed temporary files of an interrupted create", "region", name, "files", len(tmps))
	}
	if h, herr := readHeaderFile(path); herr == nil {
		// The lock was free, so whoever made this file is gone.
		log.Warn("reclaiming stale region left by a dead node", "region", name,
			"node_pid", binary.LittleEndian.Uint32(h[hdrNodePID:]),
			"state", binary.LittleEndian.Uint32(h[hdrState:]))
	} else if !errors.Is(herr, os.ErrNotExist) {
		log.Warn("replacing unreadable region file", "region", name, "err", herr)
	}

	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	r, err := createFile(tmp, l)
	if err != nil {
		lock.Close()
		return nil, err
	}
	r.name, r.lock, r.log = name, lock, log
	start, _, err := ProcStartTime(os.Getpid())
	if err != nil {
		r.release()
		os.Remove(tmp)
		lock.Close()
		return nil, err
	}
	h := r.mem
	copy(h[hdrMagic:], Magic)
	binary.LittleEndian.PutUint32(h[hdrVersion:], Version)
	binary.LittleEndian.PutUint64(h[hdrSize:], l.Size)
	binary.LittleEndian.PutUint32(h[hdrNodePID:], uint32(os.Getpid()))
	binary.LittleEndian.PutUint64(h[hdrNodeStart:], start)
	binary.LittleEndian.PutUint64(h[hdrCreated:], uint64(time.Now().UnixNano()))
	l.put(h)
	r.Heartbeat()
	r.u32(hdrState).Store(StateReady)
	if err := os.Rename(tmp, path); err != nil {
		r.release()
		os.Remove(tmp)
		lock.Close()
		return nil, fmt.Errorf("shm: publish region: %w", err)
	}
	r.path = path
	return r, nil
}

// lockName takes the exclusive lock that says a node serves name. The lock
// file is removed on Close; a node that opened it just before its removal
// would lock a dead inode, so after locking we check that the path still
// names the file we hold, and retry if not.
func lockName(name, path string) (*os.File, error) {
	for {
		lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("shm: lock file: %w", err)
		}
		if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			lock.Close()
			detail := "lock held"
			if h, herr := readHeaderFile(path); herr == nil {
				detail = fmt.Sprintf("node pid %d", binary.LittleEndian.Uint32(h[hdrNodePID:]))
			}
			return nil, &RegionError{Name: name, Detail: detail, Err: ErrBusy}
		}
		var held, named unix.Stat_t
		if unix.Fstat(int(lock.Fd()), &held) == nil && unix.Stat(path+".lock", &named) == nil &&
			held.Ino == named.Ino && held.Dev == named.Dev {
			return lock, nil
		}
		lock.Close()
	}
}

func createFile(path string, l Layout) (*Region, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("shm: create: %w", err)
	}
	// fallocate reserves the tmpfs pages now, so running out of memory is an
	// error here rather than a SIGBUS later.
	if err := unix.Fallocate(int(f.Fd()), 0, 0, int64(l.Size)); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("shm: allocate %d bytes: %w", l.Size, err)
	}
	mem, err := mapFile(f, l.Size)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return &Region{path: path, mem: mem, layout: l, file: f}, nil
}

// mapFile maps size bytes of f shared, every page pre-faulted
// (MAP_POPULATE): no page fault on the job path.
func mapFile(f *os.File, size uint64) ([]byte, error) {
	mem, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("shm: mmap %d bytes: %w", size, err)
	}
	return mem, nil
}

func readHeaderFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := make([]byte, HeaderSize)
	if _, err := f.ReadAt(h, 0); err != nil {
		return nil, err
	}
	return h, nil
}

// Attach maps the region a running node serves under name.
func Attach(name string, opts Options) (*Region, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("shm: invalid region name %q", name)
	}
	path := Path(name, opts)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &RegionError{Name: name, Detail: path + " does not exist", Err: ErrNoNode}
		}
		return nil, fmt.Errorf("shm: open %s: %w", path, err)
	}
	kept := false // the Region keeps f open on success
	defer func() {
		if !kept {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h := make([]byte, HeaderSize)
	if fi.Size() < HeaderSize {
		return nil, &RegionError{Name: name, Detail: fmt.Sprintf("file is %d bytes", fi.Size()), Err: ErrBadLayout}
	}
	if _, err := f.ReadAt(h, 0); err != nil {
		return nil, err
	}
	if string(h[:8]) != Magic {
		return nil, &RegionError{Name: name, Detail: fmt.Sprintf("magic %q", h[:8]), Err: ErrBadMagic}
	}
	if v := binary.LittleEndian.Uint32(h[hdrVersion:]); v != Version {
		return nil, &RegionError{Name: name, Detail: fmt.Sprintf("region has version %d, this binary speaks %d", v, Version), Err: ErrVersion}
	}
	l := readLayout(h)
	if err := l.check(uint64(fi.Size())); err != nil {
		return nil, &RegionError{Name: name, Detail: err.Error(), Err: ErrBadLayout}
	}
	// Pre-faulted like the node's: no page fault on the job path.
	mem, err := mapFile(f, l.Size)
	if err != nil {
		return nil, err
	}
	r := &Region{name: name, path: path, mem: mem, layout: l, log: opts.logger()}
	if s := r.u32(hdrState).Load(); s != StateReady {
		r.release()
		return nil, &RegionError{Name: name, Detail: fmt.Sprintf("state %d", s), Err: ErrNotReady}
	}
	if err := r.NodeAlive(); err != nil {
		r.release()
		return nil, err
	}
	r.file, kept = f, true
	return r, nil
}

func (r *Region) u32(off int) *atomic.Uint32 { return (*atomic.Uint32)(unsafe.Pointer(&r.mem[off])) }
func (r *Region) u64(off int) *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(&r.mem[off])) }

// Name returns the region's name.
func (r *Region) Name() string { return r.name }

// Bytes returns the whole mapping. Offsets in the layout index it.
func (r *Region) Bytes() []byte { return r.mem }

// File returns the open region file, for mapping its pages elsewhere (a
// library maps a job's input and output pages into a guest's memory). It is
// valid until Close.
func (r *Region) File() *os.File { return r.file }

// Layout returns the region's layout.
func (r *Region) Layout() Layout { return r.layout }

// Slice returns mem[off:off+n] of the mapping.
func (r *Region) Slice(off, n uint64) []byte { return r.mem[off : off+n : off+n] }

// Producers returns the producer registry.
func (r *Region) Producers() Registry {
	l := r.layout
	return Registry{mem: r.Slice(l.ProducersOff, l.MaxProducers*ProducerEntrySize), n: int(l.MaxProducers)}
}

// NodePID returns the pid of the node that created the region.
func (r *Region) NodePID() int { return int(binary.LittleEndian.Uint32(r.mem[hdrNodePID:])) }

// State returns the header's state word.
func (r *Region) State() uint32 { return r.u32(hdrState).Load() }

// Created returns the region's creation time, which names this incarnation.
func (r *Region) Created() uint64 { return binary.LittleEndian.Uint64(r.mem[hdrCreated:]) }

// Heartbeat records that the node is alive now.
func (r *Region) Heartbeat() { r.u64(hdrHeartbeat).Store(uint64(time.Now().UnixNano())) }

// LastHeartbeat returns the node's last heartbeat.
func (r *Region) LastHeartbeat() time.Time {
	return time.Unix(0, int64(r.u64(hdrHeartbeat).Load()))
}

// NodeAlive returns nil while the node that created the region runs and has
// not closed it, and an error matching ErrNoNode otherwise.
func (r *Region) NodeAlive() error {
	if s := r.State(); s == StateClosed {
		return &RegionError{Name: r.name, Detail: "node closed the region", Err: ErrNoNode}
	}
	pid := r.NodePID()
	if !ProcessAlive(pid, binary.LittleEndian.Uint64(r.mem[hdrNodeStart:])) {
		return &RegionError{Name: r.name, Detail: fmt.Sprintf("node pid %d is gone", pid), Err: ErrNoNode}
	}
	return nil
}

// release unmaps the region and closes its file.
func (r *Region) release() {
	if r.mem != nil {
		_ = unix.Munmap(r.mem)
		r.mem = nil
	}
	if r.file != nil {
		r.file.Close()
		r.file = nil
	}
}

// Close unmaps the region. For the node it first marks the region closed
// (producers see ErrNoNode), removes the name and drops the lock.
func (r *Region) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	var err error
	if r.lock != nil {
		r.u32(hdrState).Store(StateClosed)
		if rerr := os.Remove(r.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	r.release()
	if r.lock != nil {
		// Remove the lock file while still holding it (see lockName).
		os.Remove(r.path + ".lock")
		r.lock.Close() // drops the flock
	}
	return err
}
