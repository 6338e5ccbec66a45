# Toolchain file for steward: Linux on 64-bit ARM (ARMv8-A).
# GNU triple: aarch64-linux-gnu. Holds toolchain facts only (no flags, no build-type logic).
#
# Debian/Ubuntu cross packages (g++-aarch64-linux-gnu and qemu-user) need no extra settings:
#   cmake --preset aarch64
# By hand: the header-only doctest and tl-expected come from the host (docs/platform.md, cross builds).
#   cmake -S . -B build-aarch64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake \
#         -Ddoctest_DIR=/usr/lib/cmake/doctest -Dtl-expected_DIR=/usr/share/cmake/tl-expected
#
# Real SDK (Yocto, Buildroot, a vendor kit): pass its sysroot and its compiler prefix. The
# prefix is everything before "g++", so it includes the trailing '-'. doctest and tl-expected
# must be installed in the sysroot; leave out the two _DIR variables.
#   cmake -S . -B build-sdk -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake \
#         -DCMAKE_SYSROOT=/opt/sdk/sysroots/<target> -DSTEWARD_CROSS_PREFIX=/opt/sdk/bin/<triple>-
#
# Overrides, all optional:
#   STEWARD_CROSS_PREFIX          cache variable or environment variable (cache wins)
#   CMAKE_C_COMPILER / CMAKE_CXX_COMPILER    win over the prefix
#   CMAKE_FIND_ROOT_PATH          default: CMAKE_SYSROOT if given, else /usr/aarch64-linux-gnu
#   CMAKE_CROSSCOMPILING_EMULATOR default: qemu-aarch64 -L <first find root>, if qemu-aarch64 is
#                                 installed. Pass an empty value to run tests without one.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(STEWARD_CROSS_TRIPLE aarch64-linux-gnu)
set(STEWARD_CROSS_QEMU aarch64)
include("${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake")
