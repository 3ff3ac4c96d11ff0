# SPDX-License-Identifier: Apache-2.0
# liteipc-sim: a thin wrapper around CMake and CTest. See README.md.
#
#   make demo        install missing packages, build, run the echo demo (DEMO_ARGS=--trace)
#   make golden      rewrite tests/golden/echo_demo.{mmd,json} from the demo (review the diff)
#   make check       install missing packages, build and run the whole test suite, then under
#                    ASan+UBSan, then under TSan if time allows (CHECK_TSAN=yes|no|auto)
#   make build       configure and build build/
#   make test        build, then run the test suite once (no sanitizers)
#   make asan        build build-asan/ with ASan+UBSan and run the test suite there
#   make tsan        build build-tsan/ with TSan and run the test suite there
#   make test32      build build-m32/ with -m32 and run the test suite there: the 32-bit device's
#                    own layouts (installs gcc-multilib and the i386 CMocka when missing, adding
#                    the i386 architecture to dpkg; not part of `make check`)
#   make asan32      the same in build-m32-asan/ with ASan+UBSan (TSan has no 32-bit x86 port)
#   make install     install into PREFIX (default /usr/local; DESTDIR is honoured)
#   make package     build build/liteipc-sim_<version>_<arch>.deb with CPack (files under /usr)
#                    and check its fields and contents (scripts/deb-check.sh)
#   make consumer    install into a staging prefix, then build and run tests/consumer (C, C++
#                    and compat) against it, with find_package and with pkg-config; then
#                    install a scratch build, delete that build tree and run the shim and
#                    attach_or_start from the installed package alone; and build a
#                    FetchContent consumer (the library as a subproject: no tests built)
#   make valgrind    build, then run the demo and the kernel and stack tests under valgrind's
#                    memcheck (leaks and invalid accesses fail)
#   make bench       install the benchmarks' peers, build build-bench/ in Release, run every
#                    benchmark and print the table and headline figures (BENCH_ARGS=--quick)
#   make fuzz        build the libFuzzer harnesses with clang (build-fuzz/) and run each one
#                    FUZZ_SECONDS (60) seconds from the committed corpus (docs/RELIABILITY.md)
#   make tutorial    build, then redraw the diagrams of docs/TUTORIAL.md from real runs
#                    (scripts/tutorial-gen.sh; the suite checks they are up to date)
#   make chaos       a ServiceManager, services and clients on one liteipcd, killed with -9 at
#                    random for CHAOS_SECONDS (60), then exact accounting (docs/RELIABILITY.md)
#   make deps        only install missing packages
#   make clean       remove the build directories
#
# Variables: PREFIX, BUILD_TYPE (RelWithDebInfo), WERROR (ON/OFF; unset = leave as configured),
# CMAKE_ARGS (extra configure arguments), JOBS (build jobs), CTEST_JOBS (2), CTEST_ARGS,
# DEMO_ARGS, CHECK_TSAN, CHECK_BUDGET (seconds, for CHECK_TSAN=auto; 300).

SHELL := /bin/bash
.DEFAULT_GOAL := build
.SUFFIXES:

PREFIX ?= /usr/local
BUILD_TYPE ?= RelWithDebInfo
WERROR ?=
CMAKE_ARGS ?=
CTEST_JOBS ?= 2
CTEST_ARGS ?=
DEMO_ARGS ?=
CHECK_TSAN ?= auto
CHECK_BUDGET ?= 300
export JOBS CHECK_TSAN CHECK_BUDGET

CONFIGURE = -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(if $(WERROR),-DLITEIPC_WERROR=$(WERROR)) \
            $(CMAKE_ARGS)
CTEST = ctest --output-on-failure --no-tests=error -j$(CTEST_JOBS) $(CTEST_ARGS)

# Sanitizer runtime options: stop at the first report, with a stack. A suppressions file for
# TSan is used if the tree has one.
TSAN_SUPP := $(wildcard $(CURDIR)/tests/tsan.supp)
ASAN_ENV = ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
           UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
TSAN_ENV = TSAN_OPTIONS="$${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1$(if \
           $(TSAN_SUPP), suppressions=$(TSAN_SUPP))}"

.PHONY: all build test demo check asan tsan test32 asan32 valgrind install consumer bench deps \
        deps-cxx clean help package

all: build

help:
	@sed -n '3,/^$$/s/^# \{0,1\}//p' Makefile

deps:
	@scripts/install-deps.sh

deps-cxx:
	@scripts/install-deps.sh --cxx

build: deps
	@scripts/cmake-build.sh build $(CONFIGURE)

test: build
	cd build && $(CTEST)

# The demo needs only its own program: build that, quietly (the output goes to build/build.log).
demo: deps
	@scripts/cmake-build.sh --quiet --target echo_demo build $(CONFIGURE)
	@./build/examples/echo_demo $(DEMO_ARGS)

# Rewrite tests/golden (the demo's diagram and Chrome JSON) after a deliberate change.
.PHONY: golden
golden: build
	scripts/golden-check.sh --update build/examples/echo_demo

check: deps
	@MAKE='$(MAKE)' scripts/check.sh

asan: deps
	@scripts/cmake-build.sh build-asan $(CONFIGURE) -DLITEIPC_ASAN=ON
	cd build-asan && $(ASAN_ENV) $(CTEST)

tsan: deps
	@scripts/cmake-build.sh build-tsan $(CONFIGURE) -DLITEIPC_TSAN=ON
	cd build-tsan && $(TSAN_ENV) $(CTEST)

# 32-bit x86 on this 64-bit host: the structures are exactly the device's (ARM32) ones. The
# top-level CMakeLists.txt points pkg-config at the i386 .pc files in such a build. The build
# is C only (the C++ consumer check is not part of it), hence no CMAKE_CXX_FLAGS.
test32:
	@scripts/install-deps.sh --m32
	@scripts/cmake-build.sh build-m32 $(CONFIGURE) -DCMAKE_C_FLAGS=-m32
	cd build-m32 && $(CTEST)

asan32:
	@scripts/install-deps.sh --m32
	@scripts/cmake-build.sh build-m32-asan $(CONFIGURE) -DCMAKE_C_FLAGS=-m32 -DLITEIPC_ASAN=ON
	cd build-m32-asan && $(ASAN_ENV) $(CTEST)

install: build
	cmake --install build --prefix '$(PREFIX)'

package: build
	cmake --build build --target package
	scripts/deb-check.sh build

consumer: deps-cxx build
	rm -rf build/consumer-prefix
	cmake --install build --prefix '$(CURDIR)/build/consumer-prefix'
	scripts/consumer-check.sh '$(CURDIR)/build/consumer-prefix' build-consumer
	scripts/consumer-installed.sh
	scripts/consumer-fetchcontent.sh build-fetchcontent

# What runs under memcheck: the demo and the tests that need no fork-heavy timing (valgrind is
# 20-50 times slower; the fork and real-process suites would outrun their watchdogs).
VALGRIND_PROGRAMS = examples/echo_demo tests/test_pool_alloc tests/test_kernel_device \
                    tests/test_kernel_send tests/test_kernel_recv tests/test_kernel_objects \
                    tests/test_kernel_lifecycle tests/test_stack_basic tests/test_stack_ipc \
                    tests/test_stack_death tests/test_stack_exec tests/test_kernel_dump \
                    tests/test_stack_dump tests/test_stack_trace \
                    tests/test_kernel_abi tests/test_stack_abi tests/test_stack_fault
VALGRIND_PROGRAMS += tests/test_kernel_access_events tests/test_stack_access_events
VALGRIND_PROGRAMS += tests/test_kernel_stats tests/test_stack_stats tests/test_kernel_fault \
                     tests/test_stack_fault_inject tests/test_stack_vtime tests/test_stack_sched \
                     tests/test_testkit tests/test_stack_caller_kernel
# Valgrind has no futex_waitv: there the host's tasks take the ENOSYS fallback (they sleep as
# before, k->c.no_waitv) and the tests that need them asleep listening skip (4 s in all).
VALGRIND_PROGRAMS += tests/test_real_listen
VALGRIND = valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
           --show-leak-kinds=definite
valgrind: build
	scripts/install-deps.sh --valgrind
	@set -e; for p in $(VALGRIND_PROGRAMS); do \
	    echo "== valgrind $$p"; \
	    $(VALGRIND) build/$$p >build/valgrind.out 2>build/valgrind.err || \
	        { grep -v 'unhandled amd64-linux syscall\|README_MISSING\|Nevertheless\|valgrind.org\|write your own' build/valgrind.err; tail -5 build/valgrind.out; exit 1; }; \
	done; echo "valgrind: no leak, no invalid access"

BENCH_ARGS ?=
bench:
	bench/run.sh $(BENCH_ARGS)

clean:
	rm -rf build build-asan build-tsan build-consumer build-bench build-m32 build-m32-asan build-fuzz \
	       build-fetchcontent

# ---- fuzzing (docs/RELIABILITY.md) ----
# The fuzz build compiles only the harnesses (each over its own instrumented copy of the
# sources), with clang: CC is not taken from the environment.
FUZZ_SECONDS ?= 60
FUZZ_CONFIGURE = -DCMAKE_BUILD_TYPE=RelWithDebInfo $(if $(WERROR),-DLITEIPC_WERROR=$(WERROR)) \
                 -DLITEIPC_FUZZ=ON -DLITEIPC_BUILD_TESTS=OFF -DLITEIPC_BUILD_EXAMPLES=OFF \
                 -DLITEIPC_BUILD_BENCH=OFF
.PHONY: fuzz
fuzz:
	@scripts/install-deps.sh --fuzz
	CC=clang cmake -S . -B build-fuzz $(FUZZ_CONFIGURE) >/dev/null
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake --build build-fuzz --parallel $(or $(JOBS),2) \
	    --target fuzz_kernel fuzz_device
	scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

# kill -9 chaos against one liteipcd (tests/real/chaos.c); exit status non-zero on any lost or
# corrupted call, hang, unnoticed death or leak.
CHAOS_SECONDS ?= 60
.PHONY: chaos
chaos: build
	build/tests/real_chaos --seconds $(CHAOS_SECONDS) --liteipcd build/tools/liteipcd

# docs/TUTORIAL.md's diagrams, redrawn from the runs of examples/tutorial.c.
.PHONY: tutorial
tutorial: build
	scripts/tutorial-gen.sh build/examples/tutorial
