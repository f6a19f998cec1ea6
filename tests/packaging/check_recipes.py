#!/usr/bin/env python3
"""Checks embtab's package recipes without Conan or vcpkg (neither is installed in CI).

    check_recipes.py conan     --source-dir DIR
    check_recipes.py vcpkg     --source-dir DIR
    check_recipes.py changelog --source-dir DIR
    check_recipes.py install   --source-dir DIR --work-dir DIR --cmake CMAKE [--generator G]

conan      conanfile.py and test_package/conanfile.py compile and import against a stub `conan`
           package (made in a temporary directory; only names of the real Conan 2 API exist in
           it, so a misspelt import fails). The recipe's methods run against recording stubs:
           name, package_type, requirements (Eigen 3.4.0 and xxHash 0.8, headers transitive),
           set_version() == include/embtab/version.hpp, the CMake variables it sets are options of
           CMakeLists.txt, package() installs with CMake, package_info() names the CMake
           file/target and pkg-config module, package_id() clears. The test package requires the
           tested reference and runs the executable its CMakeLists.txt builds.
vcpkg      ports/embtab/vcpkg.json is JSON with version == version.hpp and the dependencies
           eigen3, xxhash, vcpkg-cmake and vcpkg-cmake-config (host); portfile.cmake makes the
           expected calls, and its -DEMBTAB_* options are options of CMakeLists.txt and the same
           as the Conan recipe's.
changelog  CHANGELOG.md has a `## [<version>]` entry for version.hpp's version.
install    configures embtab exactly as the recipes do, installs it into a fresh prefix, and
           checks the layout the recipes rely on: portfile's CONFIG_PATH holds embtabConfig.cmake,
           share/pkgconfig/embtab.pc, the headers; header only, so no lib/ or bin/.
Exit status 0 when every check holds; otherwise each failed check is printed.
"""
import argparse
import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
    return condition


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def header_version(source_dir):
    text = read(os.path.join(source_dir, "include", "embtab", "version.hpp"))
    parts = []
    for part in ("major", "minor", "patch"):
        match = re.search(r"version_%s = ([0-9]+);" % part, text)
        if not match:
            sys.exit("version.hpp: no 'version_%s = N;'" % part)
        parts.append(match.group(1))
    return ".".join(parts)


def cmake_options(source_dir):
    """Names of the option()s and cache variables declared in the top-level CMakeLists.txt."""
    text = read(os.path.join(source_dir, "CMakeLists.txt"))
    names = set(re.findall(r"^\s*option\(\s*(\w+)", text, re.M))
    names |= set(re.findall(r"^\s*set\(\s*(\w+)\s+[^)]*\bCACHE\b", text, re.M))
    return names


# ------------------------------------------------------------------------------------------------
# A stub `conan` package: just enough of the Conan 2 API to import and exercise the recipes.

STUB_MODULES = {
    "conan/__init__.py": """
        conan_version = "2.0.0"

        class _Record:
            '''Accepts any attribute or call; remembers set attributes.'''
            def __init__(self, **kw):
                self.__dict__.update(kw)
            def __getattr__(self, name):
                if name.startswith("__"):
                    raise AttributeError(name)
                value = _Record()
                setattr(self, name, value)
                return value
            def __call__(self, *a, **k):
                return None

        class _CppInfo:
            def __init__(self):
                self.properties = {}
                self.bindirs = ["bin"]
                self.libdirs = ["lib"]
                self.includedirs = ["include"]
                self.libs = []
                self.requires = []
                self.defines = []
                self.system_libs = []
                self.components = {}
            def set_property(self, name, value, *a, **k):
                self.properties[name] = value
            def get_property(self, name, *a, **k):
                return self.properties.get(name)

        class _Info:
            def __init__(self):
                self.cleared = False
            def clear(self):
                self.cleared = True

        class ConanFile:
            name = None
            version = None
            user = None
            channel = None
            settings = None
            options = {}
            default_options = {}
            requires = None
            tool_requires = None
            def __init__(self):
                self.requirements_made = []
                self.tool_requirements_made = []
                self.runs = []
                self.cpp_info = _CppInfo()
                self.info = _Info()
                self.cpp = _Record(build=_Record(bindir="build/Release"),
                                   source=_Record(), package=_Record())
                self.conf = _Record(get=lambda *a, **k: None)
                self.output = _Record(info=print, warning=print, error=print, highlight=print,
                                      success=print, debug=lambda *a, **k: None)
                self.dependencies = {}
                self.recipe_folder = None
                self.source_folder = None
                self.build_folder = None
                self.package_folder = None
                self.generators_folder = None
                self.folders = _Record()
                self.tested_reference_str = None
                if isinstance(type(self).requires, (list, tuple, str)):
                    refs = type(self).requires
                    for ref in ([refs] if isinstance(refs, str) else refs):
                        self.requirements_made.append((ref, {}))
                # the class attribute `requires` is shadowed by the method, as in Conan
                self.requires = self._requires
                self.tool_requires = self._tool_requires
            def _requires(self, ref, **traits):
                self.requirements_made.append((ref, traits))
            def _tool_requires(self, ref, **traits):
                self.tool_requirements_made.append((ref, traits))
            def test_requires(self, ref, **traits):
                self.tool_requirements_made.append((ref, traits))
            def run(self, command, *args, **kwargs):
                self.runs.append((command, kwargs))
    """,
    "conan/errors.py": """
        class ConanException(Exception):
            pass

        class ConanInvalidConfiguration(ConanException):
            pass
    """,
    "conan/tools/__init__.py": "",
    "conan/tools/cmake/__init__.py": """
        CALLS = []

        class CMake:
            def __init__(self, conanfile):
                self.conanfile = conanfile
            def configure(self, variables=None, build_script_folder=None, cli_args=None,
                          stdout=None, stderr=None):
                CALLS.append(("configure", dict(variables or {})))
            def build(self, build_type=None, target=None, cli_args=None, build_tool_args=None,
                      stdout=None, stderr=None):
                CALLS.append(("build", target))
            def install(self, build_type=None, component=None, cli_args=None, stdout=None,
                        stderr=None):
                CALLS.append(("install", component))
            def test(self, *a, **k):
                CALLS.append(("test", None))
            def ctest(self, *a, **k):
                CALLS.append(("ctest", None))

        class CMakeToolchain:
            def __init__(self, conanfile, generator=None):
                self.variables = {}
                self.cache_variables = {}
                self.preprocessor_definitions = {}
                self.presets_prefix = "conan"
                self.blocks = {}
            def generate(self):
                CALLS.append(("toolchain", dict(self.cache_variables), dict(self.variables)))

        class CMakeDeps:
            def __init__(self, conanfile):
                pass
            def set_property(self, *a, **k):
                pass
            def generate(self):
                CALLS.append(("deps", None))

        def cmake_layout(conanfile, generator=None, src_folder=".", build_folder="build"):
            CALLS.append(("layout", src_folder))
    """,
    "conan/tools/files/__init__.py": """
        import os
        CALLS = []

        def load(conanfile, path, encoding="utf-8"):
            with open(path, encoding=encoding) as f:
                return f.read()
        def save(conanfile, path, content, append=False, encoding="utf-8"):
            CALLS.append(("save", path))
        def copy(conanfile, pattern, src, dst, keep_path=True, excludes=None,
                 ignore_case=True, overwrite_equal=False):
            CALLS.append(("copy", pattern, src, dst))
            return []
        def rmdir(conanfile, path):
            CALLS.append(("rmdir", path))
        def rm(conanfile, pattern, folder, recursive=False, excludes=None):
            CALLS.append(("rm", pattern, folder))
        def mkdir(conanfile, path):
            CALLS.append(("mkdir", path))
        def get(conanfile, url, **kwargs):
            CALLS.append(("get", url))
        def download(conanfile, url, filename, **kwargs):
            CALLS.append(("download", url))
        def replace_in_file(conanfile, path, search, replace, strict=True, encoding="utf-8"):
            CALLS.append(("replace_in_file", path))
        def apply_conandata_patches(conanfile):
            pass
        def export_conandata_patches(conanfile):
            pass
        def collect_libs(conanfile, folder=None):
            return []
    """,
    "conan/tools/build/__init__.py": """
        def can_run(conanfile):
            return True
        def check_min_cppstd(conanfile, cppstd, gnu_extensions=False):
            pass
        def check_max_cppstd(conanfile, cppstd, gnu_extensions=False):
            pass
        def valid_min_cppstd(conanfile, cppstd, gnu_extensions=False):
            return True
        def cross_building(conanfile, skip_x64_x86=False):
            return False
    """,
    "conan/tools/layout/__init__.py": """
        def basic_layout(conanfile, src_folder=".", build_folder=None):
            pass
    """,
}


def make_stub_conan(root):
    for relative, source in STUB_MODULES.items():
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(source))


def load_recipe(path, module_name):
    """Compiles, then imports `path`; returns the ConanFile subclass it defines."""
    source = read(path)
    try:
        compile(source, path, "exec")
    except SyntaxError as e:
        check(False, "%s does not compile: %s" % (path, e))
        return None
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # an import of a name the Conan 2 API does not have, or worse
        check(False, "%s does not import against the Conan 2 API stub: %r" % (path, e))
        return None
    import conan
    classes = [v for v in vars(module).values()
               if isinstance(v, type) and issubclass(v, conan.ConanFile) and v is not conan.ConanFile]
    if not check(len(classes) == 1, "%s: expected one ConanFile subclass, found %d"
                 % (path, len(classes))):
        return None
    return classes[0]


def run_method(recipe, method):
    fn = getattr(recipe, method, None)
    if not check(callable(fn), "recipe has no %s() method" % method):
        return False
    try:
        fn()
    except Exception as e:
        check(False, "%s() raised %r" % (method, e))
        return False
    return True


def version_range_allows_08(ref):
    """True if the xxhash reference pins 0.8.x or is a range inside [0.8, 0.9)."""
    version = ref.split("/", 1)[1].split("@")[0]
    if re.fullmatch(r"0\.8(\.\d+)?", version):
        return True
    match = re.fullmatch(r"\[(.*)\]", version)
    if not match:
        return False
    expr = match.group(1).split(",")[0].strip()
    if re.fullmatch(r"~0\.8(\.\d+)?", expr):
        return True
    lower = re.search(r">=?\s*0\.8(\.\d+)?(?!\d)", expr)
    upper = re.search(r"<\s*0\.9(\.0)?(?![\d.])", expr)
    return bool(lower and upper)


def conan_checks(source_dir, work_dir, quiet=False):
    """Runs the Conan checks; returns the CMake cache variables the recipe sets."""
    stub_root = os.path.join(work_dir, "stub")
    shutil.rmtree(stub_root, ignore_errors=True)
    make_stub_conan(stub_root)
    sys.path.insert(0, stub_root)
    for name in [m for m in sys.modules if m == "conan" or m.startswith("conan.")]:
        del sys.modules[name]
    import conan.tools.cmake as stub_cmake
    import conan.tools.files as stub_files

    expected_version = header_version(source_dir)
    options = cmake_options(source_dir)

    # --- conanfile.py ----------------------------------------------------------------------
    recipe_path = os.path.join(source_dir, "conanfile.py")
    cls = load_recipe(recipe_path, "embtab_conanfile")
    if cls is None:
        return None
    recipe = cls()
    recipe.recipe_folder = source_dir
    recipe.source_folder = source_dir
    recipe.build_folder = os.path.join(work_dir, "conan-build")
    recipe.package_folder = os.path.join(work_dir, "conan-package")

    check(recipe.name == "embtab", "conanfile.py: name is %r, expected 'embtab'" % recipe.name)
    check(getattr(recipe, "package_type", None) == "header-library",
          "conanfile.py: package_type is %r, expected 'header-library'"
          % getattr(recipe, "package_type", None))
    check(getattr(cls, "version", None) is None,
          "conanfile.py: a literal version (%r); the version must come from version.hpp"
          % getattr(cls, "version", None))
    check(bool(getattr(recipe, "license", None)), "conanfile.py: no license")

    if run_method(recipe, "set_version"):
        check(recipe.version == expected_version,
              "conanfile.py: set_version() gives %r, version.hpp says %r"
              % (recipe.version, expected_version))
    # --version on the command line wins over the file
    other = cls()
    other.recipe_folder = source_dir
    other.version = "9.9.9"
    try:
        other.set_version()
        check(other.version == "9.9.9", "conanfile.py: set_version() overrides --version")
    except Exception as e:
        check(False, "set_version() with a given version raised %r" % e)

    # exports_sources: what package() needs, each pattern matching something
    exports = getattr(recipe, "exports_sources", None) or ()
    if isinstance(exports, str):
        exports = (exports,)
    for needed in ("include/*", "cmake/*", "CMakeLists.txt", "LICENSE"):
        check(needed in exports, "conanfile.py: exports_sources lacks %r" % needed)
    tracked = []
    for root, dirs, files in os.walk(source_dir):
        dirs[:] = [d for d in dirs if d not in (".git", "build")]
        for f in files:
            tracked.append(os.path.relpath(os.path.join(root, f), source_dir).replace(os.sep, "/"))
    for pattern in exports:
        check(any(fnmatch.fnmatch(path, pattern) for path in tracked),
              "conanfile.py: exports_sources pattern %r matches no file" % pattern)

    if run_method(recipe, "requirements"):
        refs = {ref.split("/")[0]: (ref, traits) for ref, traits in recipe.requirements_made}
        check(set(refs) == {"eigen", "xxhash"},
              "conanfile.py: requires %s, expected eigen and xxhash"
              % sorted(r for r, _ in recipe.requirements_made))
        if "eigen" in refs:
            check(refs["eigen"][0] == "eigen/3.4.0",
                  "conanfile.py: requires %r, expected eigen/3.4.0" % refs["eigen"][0])
        if "xxhash" in refs:
            check(version_range_allows_08(refs["xxhash"][0]),
                  "conanfile.py: requires %r, expected xxhash 0.8.x" % refs["xxhash"][0])
        for name, (ref, traits) in refs.items():
            check(traits.get("transitive_headers") is True,
                  "conanfile.py: %s must be required with transitive_headers=True (embtab's "
                  "public headers include it)" % ref)

    run_method(recipe, "layout")
    check(any(c[0] == "layout" for c in stub_cmake.CALLS), "conanfile.py: layout() does not "
          "call cmake_layout()")

    cache_variables = None
    if run_method(recipe, "generate"):
        toolchains = [c for c in stub_cmake.CALLS if c[0] == "toolchain"]
        if check(toolchains, "conanfile.py: generate() makes no CMakeToolchain"):
            cache_variables = dict(toolchains[-1][1])
            cache_variables.update(toolchains[-1][2])
        check(any(c[0] == "deps" for c in stub_cmake.CALLS),
              "conanfile.py: generate() makes no CMakeDeps (package() runs CMake, which must "
              "find Eigen and xxHash)")
    if cache_variables is not None:
        for name in cache_variables:
            check(name in options, "conanfile.py sets %s, which CMakeLists.txt does not declare "
                  "(declared: %s)" % (name, ", ".join(sorted(options))))
        for name in ("EMBTAB_BUILD_TESTS", "EMBTAB_BUILD_BENCHMARKS", "EMBTAB_BUILD_EXAMPLES"):
            check(cache_variables.get(name) in (False, "OFF"),
                  "conanfile.py: %s must be OFF when packaging (is %r)"
                  % (name, cache_variables.get(name)))
        check(cache_variables.get("EMBTAB_INSTALL") in (True, "ON"),
              "conanfile.py: EMBTAB_INSTALL must be ON when packaging")

    del stub_cmake.CALLS[:]
    if run_method(recipe, "package"):
        kinds = [c[0] for c in stub_cmake.CALLS]
        check("configure" in kinds and "install" in kinds,
              "conanfile.py: package() does not configure and install with CMake (%s)" % kinds)
        check(any(c[0] == "copy" and "LICENSE" in c[1] and
                  c[3].startswith(os.path.join(recipe.package_folder, "licenses"))
                  for c in stub_files.CALLS),
              "conanfile.py: package() does not copy LICENSE into <package>/licenses")

    if run_method(recipe, "package_info"):
        props = recipe.cpp_info.properties
        for name, value in (("cmake_file_name", "embtab"),
                            ("cmake_target_name", "embtab::embtab"),
                            ("pkg_config_name", "embtab")):
            check(props.get(name) == value, "conanfile.py: package_info() sets %s = %r, "
                  "expected %r" % (name, props.get(name), value))
        check(recipe.cpp_info.bindirs == [] and recipe.cpp_info.libdirs == [],
              "conanfile.py: header only, bindirs and libdirs must be empty")

    if run_method(recipe, "package_id"):
        check(recipe.info.cleared, "conanfile.py: package_id() does not clear the info "
              "(one package for every configuration)")

    # --- test_package/conanfile.py ------------------------------------------------------------
    test_dir = os.path.join(source_dir, "test_package")
    test_cls = load_recipe(os.path.join(test_dir, "conanfile.py"), "embtab_test_conanfile")
    if test_cls is not None:
        test = test_cls()
        test.recipe_folder = test_dir
        test.tested_reference_str = "embtab/%s" % expected_version
        if run_method(test, "requirements"):
            check([r for r, _ in test.requirements_made] == [test.tested_reference_str],
                  "test_package: requires %s, expected the tested reference only"
                  % [r for r, _ in test.requirements_made])
        run_method(test, "layout")
        del stub_cmake.CALLS[:]
        if run_method(test, "build"):
            kinds = [c[0] for c in stub_cmake.CALLS]
            check("configure" in kinds and "build" in kinds,
                  "test_package: build() does not configure and build with CMake")
        if run_method(test, "test"):
            if check(len(test.runs) == 1, "test_package: test() runs %d commands, expected 1"
                     % len(test.runs)):
                program = os.path.basename(test.runs[0][0])
                cmake_text = read(os.path.join(test_dir, "CMakeLists.txt"))
                check(re.search(r"add_executable\(\s*%s\b" % re.escape(program), cmake_text),
                      "test_package: test() runs %r, which test_package/CMakeLists.txt does "
                      "not build" % program)
                check(re.search(r"find_package\(\s*embtab\b", cmake_text) and
                      "embtab::embtab" in cmake_text,
                      "test_package/CMakeLists.txt: must find_package(embtab) and link "
                      "embtab::embtab (the names package_info() declares)")
    if not quiet:
        print("conan: recipe %s, version %s (from version.hpp)" % (recipe.name, recipe.version))
        print("conan: requires %s" % ", ".join(r for r, _ in recipe.requirements_made))
        print("conan: CMake variables %s" % cache_variables)
    return cache_variables


# ------------------------------------------------------------------------------------------------

def portfile_options(source_dir):
    text = read(os.path.join(source_dir, "ports", "embtab", "portfile.cmake"))
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return code, dict(re.findall(r"-D(EMBTAB_\w+)=(\w+)", code))


def vcpkg_checks(source_dir, work_dir):
    expected_version = header_version(source_dir)
    port_dir = os.path.join(source_dir, "ports", "embtab")
    try:
        manifest = json.loads(read(os.path.join(port_dir, "vcpkg.json")))
    except (OSError, ValueError) as e:
        check(False, "ports/embtab/vcpkg.json is not valid JSON: %s" % e)
        return
    check(manifest.get("name") == "embtab", "vcpkg.json: name is %r" % manifest.get("name"))
    version_fields = [k for k in ("version", "version-semver", "version-string", "version-date")
                      if k in manifest]
    check(len(version_fields) == 1, "vcpkg.json: expected one version field, found %s"
          % version_fields)
    if version_fields:
        check(manifest[version_fields[0]] == expected_version,
              "vcpkg.json: version %r, version.hpp says %r"
              % (manifest[version_fields[0]], expected_version))
    for field in ("description", "homepage", "license"):
        check(bool(manifest.get(field)), "vcpkg.json: no %s" % field)
    check(manifest.get("license") == "Apache-2.0", "vcpkg.json: license %r, LICENSE is "
          "Apache-2.0" % manifest.get("license"))
    deps = {}
    for dep in manifest.get("dependencies", []):
        if isinstance(dep, str):
            deps[dep] = {}
        else:
            deps[dep.get("name")] = dep
    for name in ("eigen3", "xxhash"):
        check(name in deps and not deps[name].get("host"),
              "vcpkg.json: no (target) dependency on %s" % name)
    for name in ("vcpkg-cmake", "vcpkg-cmake-config"):
        check(deps.get(name, {}).get("host") is True,
              "vcpkg.json: %s must be a host dependency" % name)

    code, options = portfile_options(source_dir)
    for call in ("vcpkg_cmake_configure", "vcpkg_cmake_install", "vcpkg_cmake_config_fixup",
                 "vcpkg_fixup_pkgconfig"):
        check(re.search(r"\b%s\s*\(" % call, code), "portfile.cmake: no %s()" % call)
    check(re.search(r"set\(\s*VCPKG_BUILD_TYPE\s+release\s*\)", code),
          "portfile.cmake: header only, expected set(VCPKG_BUILD_TYPE release)")
    check(re.search(r"vcpkg_install_copyright\(\s*FILE_LIST\s+\S*LICENSE", code) or
          re.search(r"LICENSE.*RENAME\s+copyright", code, re.S),
          "portfile.cmake: LICENSE is not installed as the copyright file")
    check(re.search(r"/usage\"?\s+DESTINATION", code) and
          os.path.isfile(os.path.join(port_dir, "usage")),
          "portfile.cmake: the usage file is missing or not installed")
    check(re.search(r"CONFIG_PATH\s+\S+", code), "portfile.cmake: no CONFIG_PATH given to "
          "vcpkg_cmake_config_fixup")
    cmake_opts = cmake_options(source_dir)
    for name in options:
        check(name in cmake_opts, "portfile.cmake passes -D%s, which CMakeLists.txt does not "
              "declare" % name)
    for name in ("EMBTAB_BUILD_TESTS", "EMBTAB_BUILD_BENCHMARKS", "EMBTAB_BUILD_EXAMPLES"):
        check(options.get(name) == "OFF", "portfile.cmake: -D%s=OFF missing" % name)

    # Both packagers configure embtab the same way (the recipe's own faults are the conan
    # check's business, not reported here).
    saved = FAILURES[:]
    conan_vars = conan_checks(source_dir, work_dir, quiet=True)
    FAILURES[:] = saved
    if conan_vars is not None:
        as_cmake = {k: ("ON" if v is True else "OFF" if v is False else str(v))
                    for k, v in conan_vars.items() if k.startswith("EMBTAB_")}
        check(as_cmake == options, "conanfile.py configures embtab with %s, portfile.cmake "
              "with %s" % (as_cmake, options))
    print("vcpkg: %s %s, options %s" % (manifest.get("name"),
                                        manifest.get(version_fields[0]) if version_fields else "?",
                                        options))


def changelog_checks(source_dir):
    expected_version = header_version(source_dir)
    path = os.path.join(source_dir, "CHANGELOG.md")
    if not check(os.path.isfile(path), "no CHANGELOG.md"):
        return
    text = read(path)
    check(re.search(r"^## \[%s\]( - \d{4}-\d{2}-\d{2})?\s*$" % re.escape(expected_version),
                    text, re.M),
          "CHANGELOG.md: no '## [%s] - YYYY-MM-DD' entry for version.hpp's version"
          % expected_version)
    print("changelog: entry for %s" % expected_version)


def install_checks(source_dir, work_dir, cmake, generator):
    code, options = portfile_options(source_dir)
    config_path = re.search(r"CONFIG_PATH\s+(\S+?)\s*\)?\s*$", code, re.M)
    if not check(config_path, "portfile.cmake: no CONFIG_PATH"):
        return
    config_path = config_path.group(1).strip('"')
    build = os.path.join(work_dir, "build")
    prefix = os.path.join(work_dir, "prefix")
    shutil.rmtree(build, ignore_errors=True)
    shutil.rmtree(prefix, ignore_errors=True)
    args = [cmake, "-S", source_dir, "-B", build, "-DCMAKE_BUILD_TYPE=Release"]
    if generator:
        args += ["-G", generator]
    args += ["-D%s=%s" % kv for kv in sorted(options.items())]
    for step in (args, [cmake, "--install", build, "--prefix", prefix]):
        print("$ " + " ".join(step))
        result = subprocess.run(step, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True)
        if not check(result.returncode == 0, "%s failed:\n%s" % (step[1], result.stdout)):
            return
    check(not os.path.isdir(os.path.join(build, "tests")) and
          not os.path.isdir(os.path.join(build, "bench")) and
          not os.path.isdir(os.path.join(build, "examples")),
          "configured with the recipes' options, embtab still adds tests/bench/examples")
    check(os.path.isfile(os.path.join(prefix, config_path, "embtabConfig.cmake")),
          "portfile.cmake: CONFIG_PATH %s, but the install has no %s/embtabConfig.cmake"
          % (config_path, config_path))
    check(os.path.isfile(os.path.join(prefix, "share", "pkgconfig", "embtab.pc")),
          "no share/pkgconfig/embtab.pc in the install (vcpkg_fixup_pkgconfig, Conan's "
          "rmdir(share) rely on it being there)")
    check(os.path.isfile(os.path.join(prefix, "include", "embtab", "embtab.hpp")),
          "no include/embtab/embtab.hpp in the install")
    top = sorted(os.listdir(prefix))
    check(top == ["include", "share"], "header only (empty bindirs/libdirs), but the install "
          "has %s" % top)
    print("install: %s; config in %s" % (", ".join(top), config_path))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("conan", "vcpkg", "changelog", "install"))
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--cmake", default="cmake")
    parser.add_argument("--generator", default=None)
    args = parser.parse_args()
    source_dir = os.path.abspath(args.source_dir)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="embtab-packaging-")
    work_dir = os.path.join(os.path.abspath(work_dir), args.what)
    os.makedirs(work_dir, exist_ok=True)

    if args.what == "conan":
        conan_checks(source_dir, work_dir)
    elif args.what == "vcpkg":
        vcpkg_checks(source_dir, work_dir)
    elif args.what == "changelog":
        changelog_checks(source_dir)
    else:
        install_checks(source_dir, work_dir, args.cmake, args.generator)

    for failure in FAILURES:
        print("FAIL: " + failure)
    if FAILURES:
        return 1
    print("%s: all checks passed" % args.what)
    return 0


if __name__ == "__main__":
    sys.exit(main())
