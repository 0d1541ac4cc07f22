// Command inos runs and drives the INOS node.
//
//	inos run     --region NAME         the node, until SIGTERM/SIGINT
//	inos submit  --region NAME ...     one job from files
//	inos demo                          a node and a producer: the image and crypto libraries at work
//	inos stats   --region NAME         a running node's latency percentiles, SLOs, breakers
//	inos config                        the config file's settings and defaults
//	inos bench ring [--json] [--quick] the transport benchmark
//	inos bench arena [--json] [--quick] the shared-heap allocator benchmark
package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
)

type command struct {
	name, usage string
	run         func(args []string) error
	hidden      bool
}

func commands() []command {
	return []command{
		{"run", "run the node on a shared region until SIGTERM", cmdRun, false},
		{"submit", "submit one job from files and print its result", cmdSubmit, false},
		{"demo", "start a node and a producer, run the image and crypto libraries, print latency per method", cmdDemo, false},
		{"stats", "attach to a running node: latency percentiles per method, SLOs, breakers (--plot FILE.svg)", cmdStats, false},
		{"config", "print the config file with every setting's default and documentation", cmdConfig, false},
		{"bench", "run a benchmark scenario (ring, arena, sandbox, zerocopy, gpu)", cmdBench, false},
		{"demo-producer", "one producer process of the demo", cmdDemoProducer, true},
		{"bench-uds-server", "the Unix-socket echo server of the ring benchmark", cmdUDSServer, true},
		{"bench-sandbox-node", "the node of the sandbox benchmark", cmdSandboxNode, true},
	}
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	for _, c := range commands() {
		if c.name == os.Args[1] {
			if err := c.run(os.Args[2:]); err != nil {
				fmt.Fprintf(os.Stderr, "inos %s: %v\n", c.name, err)
				os.Exit(1)
			}
			return
		}
	}
	fmt.Fprintf(os.Stderr, "inos: unknown command %q\n", os.Args[1])
	usage()
	os.Exit(2)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: inos <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		if !c.hidden {
			fmt.Fprintf(os.Stderr, "  %-8s %s\n", c.name, c.usage)
		}
	}
	fmt.Fprintln(os.Stderr, "\nRun 'inos <command> -h' for a command's flags.")
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
