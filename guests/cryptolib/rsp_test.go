package cryptolib_test

import (
	"bufio"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// record is one record of a test-vector file in the NIST CAVP ".rsp"
// layout that every file under testdata/ except the BLAKE3 JSON uses:
// "Name = value" lines, records separated by blank lines, "[...]" lines
// opening a section, "#" lines comments.
type record struct {
	section string
	line    int // of the record's first field, for failure messages
	fields  map[string]string
}

func (r record) str(t *testing.T, name string) string {
	t.Helper()
	v, ok := r.fields[name]
	if !ok {
		t.Fatalf("record at line %d has no %s", r.line, name)
	}
	return v
}

func (r record) hex(t *testing.T, name string) []byte {
	t.Helper()
	b, err := hex.DecodeString(r.str(t, name))
	if err != nil {
		t.Fatalf("record at line %d: %s: %v", r.line, name, err)
	}
	return b
}

func readRecords(t *testing.T, name string) []record {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out     []record
		cur     *record
		section string
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#"):
		case line == "":
			cur = nil
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section, cur = line[1:len(line)-1], nil
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s:%d: not a field: %q", name, n, line)
			}
			if cur == nil {
				out = append(out, record{section: section, line: n, fields: map[string]string{}})
				cur = &out[len(out)-1]
			}
			cur.fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no records", name)
	}
	return out
}
