# Toolchain file for steward: Linux on 32-bit ARM, hard-float (Debian armhf, ARMv7-A).
# GNU triple: arm-linux-gnueabihf. Holds toolchain facts only (no flags, no build-type logic).
#
# Debian/Ubuntu cross packages (g++-arm-linux-gnueabihf and qemu-user) need no extra settings:
#   cmake --preset armhf
# By hand: the header-only doctest and tl-expected come from the host (docs/platform.md, cross builds).
#   cmake -S . -B build-armhf -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/arm-linux-gnueabihf.cmake \
#         -Ddoctest_DIR=/usr/lib/cmake/doctest -Dtl-expected_DIR=/usr/share/cmake/tl-expected
#
# Real SDK (Yocto, Buildroot, a vendor kit): pass its sysroot and its compiler prefix. The
# prefix is everything before "g++", so it includes the trailing '-'. doctest and tl-expected
# must be installed in the sysroot; leave out the two _DIR variables.
#   cmake -S . -B build-sdk -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/arm-linux-gnueabihf.cmake \
#         -DCMAKE_SYSROOT=/opt/sdk/sysroots/<target> -DSTEWARD_CROSS_PREFIX=/opt/sdk/bin/<triple>-
#
# Overrides, all optional:
#   STEWARD_CROSS_PREFIX          cache variable or environment variable (cache wins)
#   CMAKE_C_COMPILER / CMAKE_CXX_COMPILER    win over the prefix
#   CMAKE_FIND_ROOT_PATH          default: CMAKE_SYSROOT if given, else /usr/arm-linux-gnueabihf
#   CMAKE_CROSSCOMPILING_EMULATOR default: qemu-arm -L <first find root>, if qemu-arm is
#                                 installed. Pass an empty value to run tests without one.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(STEWARD_CROSS_TRIPLE arm-linux-gnueabihf)
set(STEWARD_CROSS_QEMU arm)
include("${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake")
