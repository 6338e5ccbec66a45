# Shared part of steward's Linux cross toolchain files: each target file sets
# CMAKE_SYSTEM_NAME, CMAKE_SYSTEM_PROCESSOR, STEWARD_CROSS_TRIPLE (the GNU triple) and
# STEWARD_CROSS_QEMU (the qemu-user suffix), then includes this file. Toolchain facts only.

# Compilers: <prefix>gcc and <prefix>g++.
if(DEFINED ENV{STEWARD_CROSS_PREFIX})
  set(_steward_prefix "$ENV{STEWARD_CROSS_PREFIX}")
else()
  set(_steward_prefix "${STEWARD_CROSS_TRIPLE}-")
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
    set(CMAKE_FIND_ROOT_PATH "/usr/${STEWARD_CROSS_TRIPLE}")
  endif()
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Target programs (doctest test discovery, ctest, try_run) run through qemu-user. Without
# binfmt_misc a foreign binary cannot be started directly.
if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(STEWARD_QEMU qemu-${STEWARD_CROSS_QEMU} NO_CMAKE_FIND_ROOT_PATH)
  if(STEWARD_QEMU)
    list(GET CMAKE_FIND_ROOT_PATH 0 _steward_root)
    set(CMAKE_CROSSCOMPILING_EMULATOR "${STEWARD_QEMU};-L;${_steward_root}")
    unset(_steward_root)
  endif()
endif()

# try_compile() and try_run() read this file again in a fresh project; pass the same choices.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES STEWARD_CROSS_PREFIX CMAKE_FIND_ROOT_PATH)
