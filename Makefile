# Thin wrapper over CMake. `make test` and `make demo` are the two entry points.
BUILD ?= build
CMAKE_FLAGS ?=
ifeq ($(SANITIZE),1)
BUILD := build-san
CMAKE_FLAGS += -DDETVM_SANITIZE=ON
endif
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local

.PHONY: all deps build install uninstall test test-long demo bench fuzz linux clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# bin/detvm, share/man/man1/detvm.1, share/detvm/ (helper scripts) under $(DESTDIR)$(PREFIX)
install: build
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# removes what the last `make install` from $(BUILD) installed, as CMake's install manifest
# lists it (paths under PREFIX): give it the same DESTDIR
uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "uninstall: $(BUILD)/install_manifest.txt missing: nothing was installed from $(BUILD)" >&2; exit 1; }
	@sed 's,^,$(DESTDIR),' $(BUILD)/install_manifest.txt | xargs -r -d '\n' rm -fv --
	@sed -n 's,^\(.*\)/trace_read\.py$$,$(DESTDIR)\1,p' $(BUILD)/install_manifest.txt | \
		xargs -r -d '\n' rmdir --ignore-fail-on-non-empty --
	@rm -f $(BUILD)/install_manifest.txt

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
