/* SPDX-License-Identifier: Apache-2.0 */
/*
 * install_dir.c - the one object of libliteipc.a that `cmake --install` rebuilds (see
 * install_dir.h): the installation's bin directory, recorded when installing, not configuring.
 */
#include "install_dir.h"

#ifndef LITEIPC_INSTALLED_BINDIR
#define LITEIPC_INSTALLED_BINDIR ""
#endif

const char lk_installed_bindir[] = LITEIPC_INSTALLED_BINDIR;
