# lkvm: the two commands a fresh machine needs are `make demo` and `make test`.
SWIFT ?= swift
RELEASE_FLAGS = -c release --static-swift-stdlib
LKVM_RELEASE = .build/release/lkvm

.PHONY: all deps build release demo test unit-test lab-test bench clean

all: build

# System libraries the build links: libslirp (-n mode=user). Its slirp.pc
# wants glib's .pc, which libslirp-dev does not install: the header is the probe.
deps:
	@test -e /usr/include/slirp/libslirp.h || { (apt-get update -qq || true) && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libslirp-dev; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product lkvm

# Boot the demo guest (Debian's stock kernel + a busybox initramfs) to a shell:
# directly on this host's KVM when it can boot a stock kernel, in the lab otherwise.
demo: release
	scripts/demo

# Every test: unit tests, KVM smoke tests on the host's /dev/kvm (skipped with a
# reason when absent) and the lab scenarios booting real kernels.
test: unit-test lab-test

unit-test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

lab-test: release
	lab/test --lkvm $(LKVM_RELEASE)

bench: release
	scripts/bench

clean:
	rm -rf .build
