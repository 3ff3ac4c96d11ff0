# SPDX-License-Identifier: Apache-2.0
# package.cmake - a Debian package of the installation (cmake/install.cmake, tools/, compat/)
# with CPack: `make package` (the Makefile's target) or `cpack -G DEB` in the build tree gives
# build/liteipc-sim_<version>_<arch>.deb, and scripts/deb-check.sh checks its contents.
# Included by the top-level CMakeLists.txt for the top-level project only.
#
# One package holds everything: the daemon, the shim and the development files (static
# libraries, headers, CMake and pkg-config packages), as a test tool is installed whole. The
# files go under /usr; DESTDIR staging (CPACK_SET_DESTDIR) keeps the prefix that the install
# step records (liteipcd's directory in libliteipc.a, the .pc files) /usr, not the staging
# directory.

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "liteipc-sim")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "liteipc-sim developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "LiteOS-A LiteIPC driver (/dev/lite_ipc) simulated on a Linux host")
set(CPACK_PACKAGE_DESCRIPTION
    "liteipc-sim models the LiteIPC kernel driver of LiteOS-A in user space, so that IPC code \
written for OpenHarmony's small-system devices runs and is tested on a Linux host: the \
simulator library and its headers, the liteipcd daemon that hosts a kernel for separate \
processes, an LD_PRELOAD shim for unmodified programs, and CMake and pkg-config packages. \
License: Apache-2.0 (/usr/share/doc/liteipc-sim/LICENSE).")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX "/usr") # what CMAKE_INSTALL_PREFIX is for the staged install
set(CPACK_OUTPUT_FILE_PREFIX "${PROJECT_BINARY_DIR}")

set(CPACK_DEBIAN_PACKAGE_MAINTAINER "liteipc-sim developers <dev@liteipc-sim.invalid>")
set(CPACK_DEBIAN_PACKAGE_SECTION "devel")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT") # liteipc-sim_<version>_<arch>.deb
# liteipcd and the shim need only the C library; dpkg-shlibdeps (dpkg-dev) computes its least
# version where it is installed. The static libraries, headers and .pc/.cmake files need
# nothing more at run time; building against them wants a compiler and one of these tools.
find_program(LITEIPC_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(LITEIPC_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6")
endif()
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "pkg-config, cmake (>= 3.20)")

include(CPack)
