# The two commands: `make demo` and `make test`. Both install what they need, then build.
PYTHON ?= python3

.PHONY: all deps build test swift-test pytest demo bench clean

all: build

deps:
	PYTHON=$(PYTHON) bash scripts/install-deps.sh

# Builds the Swift engine (release, Swift runtime linked statically) and the Python extension, and installs
# the `swiftcnn` package into the current Python.
build: deps
	$(PYTHON) -m pip install --no-build-isolation --no-deps -q .

swift-test:
	swift test

pytest: build
	$(PYTHON) -m pytest python/tests -q

test: build swift-test pytest

demo: build
	$(PYTHON) examples/mnist_convnet.py --out demo_output

clean:
	rm -rf .build build python/swiftcnn/*.so python/swiftcnn/include demo_output

# Side-by-side benchmark against Keras (tensorflow-cpu) and PyTorch, installed into bench/.venv; then data-parallel
# training over MPI (bench/distributed.py, in the build's Python, which has mpi4py).
bench: build
	bash bench/setup_peers.sh
	bench/.venv/bin/python bench/run.py $(if $(QUICK),--quick,)
	$(PYTHON) bench/distributed.py $(if $(QUICK),--quick,)
