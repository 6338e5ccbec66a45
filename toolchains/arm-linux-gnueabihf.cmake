# Toolchain file for steward: Linux on 32-bit ARM, hard-float (Debian armhf, ARMv7-A).
# GNU triple: arm-linux-gnueabihf. Holds toolchain facts only (no flags, no build-type logic).
#
# Debian/Ubuntu cross packages (g++-arm-linux-gnueabihf and qemu-user) need no extra settings:
#   cmake --preset armhf
# By hand: the header-only doctest and tl-expected come from the host (PLATFORM-NOTES.md 3.2).
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

# Compilers: <prefix>gcc and <prefix>g++.
if(DEFINED ENV{STEWARD_CROSS_PREFIX})
  set(_steward_prefix "$ENV{STEWARD_CROSS_PREFIX}")
else()
  set(_steward_prefix "arm-linux-gnueabihf-")
endif()
set(STEWARD_CROSS_PREFIX "${_steward_prefix}" CACHE STRING
    "Cross compiler prefix: <prefix>gcc and <prefix>g++ are the compilers")
unset(_steward_prefix)
if(NOT CMAKE_C_COMPILER)
  set(CMAKE_C_COMPILER "${STEWARD_CROSS_PREFIX}gcc")
endif()
if(NOT CMAKE_CXX_COMPILER)
  set(CMAKE_CXX_COMPILER "${STEWARD_CROSS_PREFIX}g++")
endif()

# Target libraries, headers and CMake packages are looked up only under the find root;
# build tools only on the host.
if(NOT CMAKE_FIND_ROOT_PATH)
  if(CMAKE_SYSROOT)
    set(CMAKE_FIND_ROOT_PATH "${CMAKE_SYSROOT}")
  else()
    set(CMAKE_FIND_ROOT_PATH "/usr/arm-linux-gnueabihf")
  endif()
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Target programs (doctest test discovery, ctest, try_run) run through qemu-user. Without
# binfmt_misc a foreign binary cannot be started directly.
if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(STEWARD_QEMU qemu-arm NO_CMAKE_FIND_ROOT_PATH)
  if(STEWARD_QEMU)
    list(GET CMAKE_FIND_ROOT_PATH 0 _steward_root)
    set(CMAKE_CROSSCOMPILING_EMULATOR "${STEWARD_QEMU};-L;${_steward_root}")
    unset(_steward_root)
  endif()
endif()

# try_compile() and try_run() read this file again in a fresh project; pass the same choices.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES STEWARD_CROSS_PREFIX CMAKE_FIND_ROOT_PATH)
