/* SPDX-License-Identifier: Apache-2.0 */
/*
 * version.h - the version of liteipc-sim these headers belong to (included by liteipc.h). This
 * is the one place the version is written: CMakeLists.txt reads it for project(), and with it
 * the CMake package and the pkg-config files. liteipc_version() (liteipc.h) tells the version
 * of the library a program actually runs with.
 */
#ifndef LITEIPC_VERSION_H
#define LITEIPC_VERSION_H

#define LITEIPC_VERSION_MAJOR 0
#define LITEIPC_VERSION_MINOR 1
#define LITEIPC_VERSION_PATCH 0

/* "MAJOR.MINOR.PATCH" */
#define LITEIPC_VERSION_STRING "0.1.0"

/* One number that orders versions, for #if: LITEIPC_VERSION_NUMBER >= LITEIPC_VERSION(0, 2, 0) */
#define LITEIPC_VERSION(major, minor, patch) (((major) << 16) | ((minor) << 8) | (patch))
#define LITEIPC_VERSION_NUMBER                                                                    \
    LITEIPC_VERSION(LITEIPC_VERSION_MAJOR, LITEIPC_VERSION_MINOR, LITEIPC_VERSION_PATCH)

#endif
