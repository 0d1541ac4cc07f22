package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDefaultsRoundTrip: the documented default file loads back to the
// defaults, and documents every setting.
func TestDefaultsRoundTrip(t *testing.T) {
	b, err := Write(Default())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "inos.toml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if got, want := mustWrite(t, c), string(b); got != want {
		t.Fatalf("round trip differs:\n%s\nwant\n%s", got, want)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, _, ok := strings.Cut(line, " = "); ok && !strings.HasPrefix(line, "#") {
			if !strings.Contains(string(b), "\n# ") {
				t.Fatalf("setting %s without documentation", k)
			}
		}
	}
	t.Logf("\n%s", b)
}

func mustWrite(t *testing.T, c Config) string {
	b, err := Write(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name, file, err string
		check           func(Config) bool
	}{
		{"partial", "[node]\nregion = \"n1\"\nheap_mib = 64\n[slo.latency_overrides]\n\"image.resize\" = \"2s\"\n", "",
			func(c Config) bool {
				return c.Node.Region == "n1" && c.Node.HeapMiB == 64 && c.Node.Batch == 10 &&
					c.SLO.LatencyOverrides["image.resize"].D() == 2*time.Second && c.SLO.LatencyP95.D() == 100*time.Millisecond
			}},
		{"unknown key", "[node]\nregoin = \"n1\"\n", "regoin", nil},
		{"bad duration", "[node]\nspin = \"fast\"\n", ":2:8: toml: time: invalid duration", nil},
		{"not a power of two", "[node]\ninbox_slots = 1000\n", "node.inbox_slots = 1000", nil},
		{"rate out of range", "[slo]\nsuccess_rate = 99.9\n", "slo.success_rate", nil},
		{"not TOML", "node = [", "config", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.toml")
			os.WriteFile(p, []byte(tc.file), 0o644)
			c, err := Load(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.err)
				}
				t.Logf("%v", err)
				return
			}
			if err != nil || !tc.check(c) {
				t.Fatalf("err %v, config %+v", err, c)
			}
		})
	}
}
