/* SPDX-License-Identifier: Apache-2.0 */
/*
 * install_dir.h - the bin directory of the installation this copy of the library belongs to.
 */
#ifndef LITEIPC_INSTALL_DIR_H
#define LITEIPC_INSTALL_DIR_H

/* "" in the build tree. `cmake --install` compiles install_dir.c again with the prefix it
   installs to and replaces this object in the installed libliteipc.a (cmake/install.cmake), so
   that a program linked with the installed library finds that installation's liteipcd. */
extern const char lk_installed_bindir[];

#endif
