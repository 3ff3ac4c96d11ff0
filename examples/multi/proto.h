/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto.h - the messages that liteipc-sm, liteipc-echo and liteipc-client exchange.
 *
 * Every message is an MT_REQUEST with one of these codes and its data as plain bytes:
 *
 *   to handle 0 (the ServiceManager)
 *     SM_REGISTER  data: a service name.   reply: the caller's new handle (uint32_t), or a
 *                                          FAILED_REPLY (name taken, table full)
 *     SM_LOOKUP    data: a service name.   reply: the service's handle (uint32_t), after the SM
 *                                          granted the caller's process access to it; or a
 *                                          FAILED_REPLY (no such service), which the caller's
 *                                          synchronous call returns as ENOENT
 *   to the echo service
 *     ECHO_UPPER   data: text.             reply: the same text in upper case
 *   to a task of one's own process, one-way (a process needs no grant to reach its own tasks)
 *     MSG_STOP     no data: the receiving task leaves its receive loop. Accepted only from the
 *                  receiver's own process; this is how each program ends its blocked threads
 *                  when it is told to stop.
 */
#ifndef LITEIPC_MULTI_PROTO_H
#define LITEIPC_MULTI_PROTO_H

#define SM_MAX_MSG_SIZE 256u /* IPC_SET_CMS: the largest request to handle 0, as samgr uses */
#define SVC_NAME_MAX 31      /* bytes of a service name */

enum sm_code { SM_REGISTER = 1, SM_LOOKUP = 2 };
enum echo_code { ECHO_UPPER = 1 };
enum { MSG_STOP = 1000 };

#endif /* LITEIPC_MULTI_PROTO_H */
