# Thin wrapper over CMake. `make test` and `make demo` are the two entry points.
BUILD ?= build
CMAKE_FLAGS ?=
ifeq ($(SANITIZE),1)
BUILD := build-san
CMAKE_FLAGS += -DDETVM_SANITIZE=ON
endif
JOBS ?= $(shell nproc)

.PHONY: all deps build test test-long demo bench fuzz linux clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# the long trials (label long: 10 kills, 20 partitions...) are `make test-long`
test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE long $(CTEST_FLAGS); rc=$$?; \
		../tests/kvmhost/kvm-test.sh --where; exit $$rc

test-long: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L long $(CTEST_FLAGS); rc=$$?; \
		../tests/kvmhost/kvm-test.sh --where; exit $$rc

demo: build
	@scripts/demo.sh $(BUILD)

bench: build
	@tests/bench/run.sh $(BUILD)

fuzz: deps
	@tests/fuzz/smoke.sh

clean:
	rm -rf build build-san build-fuzz
