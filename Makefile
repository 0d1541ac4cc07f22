# INOS node. `make demo` and `make test` do all set-up themselves on a fresh
# Debian machine with Go 1.26 (they install Debian's capnproto, capnpc-go and
# prometheus when missing).
GO      ?= go
TOOLS   := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(PATH)

# How long `make test` fuzzes each target, and `make fuzz` does.
# The smoke run counts executions rather than seconds: with a duration, Go
# 1.26's fuzz coordinator can report "context deadline exceeded" as a failure
# when a busy worker answers after the deadline (go.dev/issue/75804, fixed in
# Go 1.27); a count has no deadline to race. 20000 runs take 0.5-8 s a target
# on 2 cores.
FUZZ_SMOKE ?= 20000x
FUZZ_TIME  ?= 10m

# Fuzz targets as package:Target. Most live in fuzz/; a target that needs an
# internal package lives beside it.
FUZZ_TARGETS := $(shell grep -ho '^func Fuzz[A-Za-z0-9_]*' fuzz/*_test.go 2>/dev/null | sed 's|func |./fuzz:|') \
	./sandbox/internal/fuel:FuzzFuel

.PHONY: all build demo test vet unit gpu-test fuzz-smoke fuzz soak generate check-generated guests check-guests tools bench clean

all: build

build:
	$(GO) build -o bin/inos ./cmd/inos

demo: build
	./bin/inos demo

# capnp (the schema tests' reference tool), capnpc-go, Debian's prometheus
# package (promtool and a real server scrape the node in ops' tests), and
# the GPU library's Dawn build and Mesa's lavapipe (a Vulkan on the CPU) in
# .tools/webgpu (scripts/webgpu.sh: checksum-verified, private folder).
tools:
	@scripts/capnp-tools.sh
	@scripts/apt-ensure.sh promtool:prometheus
	@scripts/webgpu.sh

generate:
	@scripts/generate.sh

check-generated:
	@scripts/generate.sh --check

# The library guests (guests/<name>) are committed built (guests/wasm) and
# embedded; check-guests rebuilds them and fails if a byte differs.
guests:
	@scripts/guests.sh

check-guests:
	@scripts/guests.sh --check

vet:
	$(GO) vet ./...
	$(GO) vet -tags webgpu ./gpu/...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.capnp\.go$$'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }

unit:
	$(GO) test -count=1 -timeout 15m ./...

fuzz-smoke:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t for $(FUZZ_SMOKE)"; \
		$(GO) test $${t%%:*} -run '^$$' -fuzz "^$${t##*:}$$" -fuzztime $(FUZZ_SMOKE) || exit 1; \
	done

test: tools check-generated check-guests vet unit gpu-test fuzz-smoke
	$(GO) test -count=1 -race -timeout 10m ./ring ./shm ./kernel ./client

# The gpu library's tests need its webgpu.h library and an adapter: Mesa's
# lavapipe here (scripts/webgpu.sh), the GPU on a GPU machine.
gpu-test:
	. .tools/webgpu/env && INOS_GPU_REQUIRED=1 $(GO) test -count=1 -tags webgpu -timeout 10m ./gpu/...

# The long runs have a duration; scripts/fuzz.sh tells Go 1.26's deadline
# race at their end from a finding.
fuzz: tools
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t for $(FUZZ_TIME)"; \
		scripts/fuzz.sh $${t%%:*} $${t##*:} $(FUZZ_TIME) $(GO) || exit 1; \
	done

soak: build
	INOS_SOAK=1 $(GO) test -count=1 -timeout 60m -run 'Soak' -v ./kernel

# The sandbox benchmark compares the image pipeline with libvips' vips
# command, installed here when missing (it runs without it otherwise).
bench: build
	-@scripts/apt-ensure.sh vips:libvips-tools
	@scripts/webgpu.sh
	./bin/inos bench ring
	./bin/inos bench arena
	./bin/inos bench sandbox
	. .tools/webgpu/env && ./bin/inos bench gpu

clean:
	rm -rf bin .tools demo-out
