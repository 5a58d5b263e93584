"""Builds the Swift engine (release, Swift runtime linked in) and the `swiftcnn._native` extension; the package's
metadata and extras are in pyproject.toml.

    pip install .                       # a fresh virtual environment with the Swift toolchain on PATH
    python -m build                     # sdist + wheel; `auditwheel repair` then makes the wheel portable

SWIFTCNN_SWIFT_SCRATCH names the `swift build` scratch folder (default: .build in the source tree), so a build
from an unpacked sdist can reuse an earlier build of the engine.
"""
import os
import shutil
import subprocess

import numpy
from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
HEADER_DIR = os.path.join(ROOT, "Sources", "SwiftCNNC", "include")


class BuildWithSwift(build_ext):
    """Runs `swift build -c release --product swiftcnn`, puts libswiftcnn.so and swiftcnn.h into the package,
    and links the extension against the library with an $ORIGIN rpath."""

    def run(self):
        scratch = os.environ.get("SWIFTCNN_SWIFT_SCRATCH", os.path.join(ROOT, ".build"))
        swift = ["swift", "build", "-c", "release", "--product", "swiftcnn", "--scratch-path", scratch]
        subprocess.check_call(swift, cwd=ROOT)
        bin_path = subprocess.check_output(swift[:4] + ["--scratch-path", scratch, "--show-bin-path"], cwd=ROOT, text=True).strip()
        library = os.path.join(bin_path, "libswiftcnn.so")

        package_dir = os.path.join(self.build_lib, "swiftcnn")
        for target in (package_dir, os.path.join(ROOT, "python", "swiftcnn")):
            os.makedirs(os.path.join(target, "include"), exist_ok=True)
            shutil.copy2(library, os.path.join(target, "libswiftcnn.so"))
            shutil.copy2(os.path.join(HEADER_DIR, "swiftcnn.h"), os.path.join(target, "include", "swiftcnn.h"))
        for ext in self.extensions:
            ext.library_dirs.append(bin_path)
        super().run()


native = Extension(
    "swiftcnn._native",
    sources=["python/swiftcnn/_native.c"],
    include_dirs=[HEADER_DIR, numpy.get_include()],
    libraries=["swiftcnn"],
    runtime_library_dirs=["$ORIGIN"],
    extra_compile_args=["-O2", "-Wall"],
)

setup(
    package_dir={"": "python"},
    packages=find_packages("python", exclude=["tests", "tests.*"]),
    package_data={"swiftcnn": ["libswiftcnn.so", "include/swiftcnn.h"]},
    ext_modules=[native],
    cmdclass={"build_ext": BuildWithSwift},
)
