"""Conan 2 recipe for embtab, a header-only C++17 library of compressed embedding tables.

    conan create . --build=missing          # builds and runs test_package/ too

The version is not written here: set_version() reads it from include/embtab/version.hpp, the
one place it lives (CMakeLists.txt reads the same file). tests/packaging/check_recipes.py checks
this recipe against a stub `conan` module, since Conan itself is not installed in CI.
"""
import os
import re

from conan import ConanFile
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir

required_conan_version = ">=2.0"


class EmbtabConan(ConanFile):
    name = "embtab"
    description = "Compressed embedding tables for recommender models (header-only C++17)"
    license = "Apache-2.0"
    homepage = "https://github.com/embtab/embtab"  # placeholder until the public repository exists
    url = homepage
    topics = ("embedding", "recommender", "dlrm", "hashing", "quantization", "header-only")
    package_type = "header-library"
    # Settings are needed to run CMake in package(); package_id() drops them again.
    settings = "os", "arch", "compiler", "build_type"
    no_copy_source = True
    exports_sources = (
        "include/*",
        "cmake/*",
        "CMakeLists.txt",
        "LICENSE",
        "README.md",
        "CHANGELOG.md",
    )

    def set_version(self):
        # A version given on the command line (--version) wins; otherwise read version.hpp.
        if self.version:
            return
        text = load(self, os.path.join(self.recipe_folder, "include", "embtab", "version.hpp"))
        parts = []
        for part in ("major", "minor", "patch"):
            match = re.search(r"version_%s = ([0-9]+);" % part, text)
            if not match:
                raise ValueError("no 'version_%s = N;' in include/embtab/version.hpp" % part)
            parts.append(match.group(1))
        self.version = ".".join(parts)

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        # embtab's public headers include Eigen and <xxhash.h> (XXH_INLINE_ALL: header use only),
        # so both must be visible to whoever includes embtab.
        self.requires("eigen/3.4.0", transitive_headers=True)
        self.requires("xxhash/[>=0.8.1 <0.9]", transitive_headers=True)

    def package_id(self):
        self.info.clear()

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["EMBTAB_BUILD_TESTS"] = False
        tc.cache_variables["EMBTAB_BUILD_BENCHMARKS"] = False
        tc.cache_variables["EMBTAB_BUILD_EXAMPLES"] = False
        tc.cache_variables["EMBTAB_INSTALL"] = True
        tc.cache_variables["EMBTAB_FETCH_DEPS"] = False  # Conan provides Eigen and xxHash
        tc.generate()
        deps = CMakeDeps(self)
        deps.generate()

    def build(self):
        pass  # header only: nothing to build

    def package(self):
        copy(self, "LICENSE", src=self.source_folder,
             dst=os.path.join(self.package_folder, "licenses"))
        cmake = CMake(self)
        cmake.configure()
        cmake.install()
        # CMakeDeps / PkgConfigDeps make consumers' config files from package_info(); drop
        # embtab's own (share/cmake/embtab, share/pkgconfig) as Conan Center recipes do.
        rmdir(self, os.path.join(self.package_folder, "share"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "embtab")
        self.cpp_info.set_property("cmake_target_name", "embtab::embtab")
        self.cpp_info.set_property("pkg_config_name", "embtab")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        # No cpp_info.requires: embtab uses all of both dependencies (Eigen3::Eigen, xxHash).
