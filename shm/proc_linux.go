package shm

import (
	"bytes"
	"errors"
	"os"
	"strconv"
)

// ProcStartTime returns the start time of process pid in clock ticks since
// boot (/proc/PID/stat field 22) and whether the process is running (not a
// zombie). Together with the pid it names one process for its whole life:
// a pid that was reused has another start time.
func ProcStartTime(pid int) (start uint64, running bool, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, false, nil
		}
		return 0, false, err
	}
	// The command name (field 2) is in parentheses and may itself hold
	// spaces or parentheses: parse from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, false, errors.New("shm: unreadable /proc stat")
	}
	fields := bytes.Fields(b[i+2:])
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0, false, errors.New("shm: short /proc stat")
	}
	st := fields[0][0]
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, false, err
	}
	return start, st != 'Z' && st != 'X' && st != 'x', nil
}

// ProcessAlive reports whether the process pid that started at start (as
// given by ProcStartTime; 0 skips the check) still runs.
func ProcessAlive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	s, running, err := ProcStartTime(pid)
	if err != nil {
		// Cannot tell: assume alive, never reclaim on doubt.
		return true
	}
	return running && (start == 0 || s == start)
}
