# lkvm: the two commands a fresh machine needs are `make demo` and `make test`.
SWIFT ?= swift
RELEASE_FLAGS = -c release --static-swift-stdlib
LKVM_RELEASE = .build/release/lkvm

.PHONY: all deps build release aarch64 demo test unit-test lab-test lab-arm64-test bench stress fuzz fuzz-smoke clean

all: build

# System libraries the build links: libslirp (-n mode=user) and libfdt (the
# arm64 device tree); libelf and dtc for arm64 work (dtc checks dumped DTBs).
# slirp.pc wants glib's .pc, which libslirp-dev does not install: headers and
# the dtc binary are the probes.
DEPS_PACKAGES = libslirp-dev libfdt-dev libelf-dev device-tree-compiler
deps:
	@{ test -e /usr/include/slirp/libslirp.h && test -e /usr/include/libfdt.h && \
	   test -e /usr/include/libelf.h && command -v dtc >/dev/null; } || \
		{ (apt-get update -qq || true) && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEPS_PACKAGES); }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product lkvm

# lkvm for aarch64, cross-built on this x86-64 host for the ARM64 lab:
# .build-aarch64/release/lkvm (scripts/build-aarch64; caches in /var/cache/lkvm-aarch64).
aarch64:
	nice -n 10 scripts/build-aarch64

# Boot the demo guest (Debian's stock kernel + a busybox initramfs) to a shell:
# directly on this host's KVM when it can boot a stock kernel, in the lab otherwise.
demo: release
	scripts/demo

# Every test: unit tests, KVM smoke tests on the host's /dev/kvm (skipped with a
# reason when absent) and the lab scenarios booting real kernels.
test: unit-test fuzz-smoke lab-test lab-arm64-test

unit-test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

lab-test: release
	lab/test --lkvm $(LKVM_RELEASE)

# The ARM64 lab suite: both arm64 boards, with the aarch64 lkvm built on this host.
lab-arm64-test: aarch64
	lab/arm64/test --lkvm .build-aarch64/release/lkvm

bench: release
	scripts/bench

# Lifecycle stress: 1000 quick-exit runs each at 1, 2 and 8 vCPUs on this host's
# KVM, counting hangs, crashes and failures (docs/stress.md; CI runs 30 each in unit-test).
stress: build
	scripts/stress --lkvm .build/debug/lkvm --runs 1000

# libFuzzer (with ASan and LSan) on what eats guest- and user-controlled bytes:
# virtqueues, every virtio device, 9P, the bzImage and Image loaders, board
# files and the device tree (Fuzz/, docs/fuzzing.md). FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz: deps
	Fuzz/run $(FUZZ_SECONDS)

# CI: a fixed seed, so a smoke run explores the same inputs every time.
fuzz-smoke: deps
	FUZZ_SEED=1 Fuzz/run 5

clean:
	rm -rf .build
