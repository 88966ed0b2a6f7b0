# Front door: every target installs what it needs (scripts/install-deps), then builds with CMake presets.
.PHONY: deps build release test test-asan fuzz bench bench-server demo soak package-check format format-check clean

JOBS ?= 2

deps:
	@./scripts/install-deps

build: deps
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS)

# What to install on a real edge box or server: no tests, no test-only switches.
release: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

test: build
	@ctest --preset dev

test-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	@ctest --preset asan

fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	@./scripts/run-fuzzers build-fuzz/bin $${FUZZ_SECONDS:-30}

bench: build
	@./scripts/run-bench

# The server next to nginx and raw PostgreSQL writers (bench/server/side_by_side.sh): about 5 minutes.
bench-server: build
	@bench/server/side_by_side.sh build

demo: deps
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS) --target sungrow-edge sungrow-sim sungrow-server
	@./scripts/demo

# The fault campaigns at soak counts (README, "No sample lost"): about 13 minutes, so never part
# of test or CI. SUNGROW_SOAK=N multiplies the soak counts.
SOAK_KILLS = FaultCampaign.EdgeKilled*:FaultCampaign.ServerKilled*:FaultCampaign.PostgresRestarted*
SOAK_LINK = FaultCampaign.CaddyStopped*:FaultCampaign.CaddyDown*
soak: deps
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS) --target pipeline_fault_test
	@SUNGROW_SOAK=$${SUNGROW_SOAK:-1} build/bin/pipeline_fault_test --gtest_filter='$(SOAK_KILLS):$(SOAK_LINK)'

# Builds the .debs (release preset), installs them with apt-get, runs them, checks the deployment
# files (compose, Caddyfile, units), purges them. Needs root or sudo.
package-check: deps
	@JOBS=$(JOBS) ./scripts/check-packages

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

format-check:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror

# Every build folder the presets and scripts make.
clean:
	rm -rf build build-asan build-fuzz build-release
