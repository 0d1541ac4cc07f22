package kernel_test

import (
	"io"
	"log/slog"
	"os"
)

// testLogger is quiet unless INOS_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("INOS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
