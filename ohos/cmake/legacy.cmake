# SPDX-License-Identifier: Apache-2.0
# The legacy path: ipc_lite (communication_ipc_lite) under samgr_lite at its last ipc_lite
# commit. Upstream files are compiled unchanged; the glue supplies the platform.
ohos_path_ready(_ready legacy "ipc_lite + samgr_lite" OHOS_IPC_LITE_DIR OHOS_SAMGR_LITE_LEGACY_DIR)
if(NOT _ready)
  return()
endif()
message(STATUS "ohos: legacy path from ${OHOS_IPC_LITE_DIR} and ${OHOS_SAMGR_LITE_LEGACY_DIR}")

set(_i ${OHOS_IPC_LITE_DIR})
set(_s ${OHOS_SAMGR_LITE_LEGACY_DIR})

# ipc_lite: its adapter over /dev/lite_ipc, and the IpcIo serializer
add_library(ohos_legacy_ipc_objs OBJECT ${_i}/frameworks/liteipc/src/liteipc_adapter.c
                                   ${_i}/frameworks/liteipc/src/serializer.c)
target_include_directories(ohos_legacy_ipc_objs SYSTEM PUBLIC ${_i}/interfaces/kits
                           PRIVATE ${_i}/frameworks/liteipc/include)
target_link_libraries(ohos_legacy_ipc_objs PUBLIC ohos_platform)
target_compile_options(ohos_legacy_ipc_objs PRIVATE ${OHOS_UPSTREAM_OPTIONS})
# Its error printer uses the XSI strerror_r (returns int); with _GNU_SOURCE glibc gives the GNU
# one, which returns a pointer and leaves the buffer it prints uninitialised. POSIX 2008 is
# what it needs besides (timers, clocks).
set_source_files_properties(${_i}/frameworks/liteipc/src/liteipc_adapter.c
                            PROPERTIES COMPILE_OPTIONS "-U_GNU_SOURCE;-D_POSIX_C_SOURCE=200809L")

# samgr_lite: the framework, its posix adapter, the endpoint and the remote client
ohos_samgr_objects(ohos_legacy_samgr_objs ${_s} ohos_legacy_ipc_objs
  ${_s}/samgr_client/source/remote_register.c
  ${_s}/samgr_endpoint/source/client_factory.c ${_s}/samgr_endpoint/source/default_client.c
  ${_s}/samgr_endpoint/source/endpoint.c ${_s}/samgr_endpoint/source/token_bucket.c)

# samgr_server: the ServiceManager's service, and its store of endpoints
add_library(ohos_legacy_server_objs OBJECT ${_s}/samgr_server/source/samgr_server.c
                                      ${_s}/samgr_endpoint/source/sa_store.c)
target_include_directories(ohos_legacy_server_objs PRIVATE ${_s}/samgr_server/source
                           ${_i}/frameworks/liteipc/include)
target_link_libraries(ohos_legacy_server_objs PUBLIC ohos_legacy_samgr_objs ohos_cjson)
target_compile_options(ohos_legacy_server_objs PRIVATE ${OHOS_UPSTREAM_OPTIONS})

add_executable(ohos_legacy_samgr ${OHOS_GLUE_DIR}/samgr_main.c ${OHOS_GLUE_DIR}/ipc_auth.c)
ohos_program(ohos_legacy_samgr ohos_legacy_server_objs ohos_legacy_samgr_objs ohos_legacy_ipc_objs
             ohos_cjson)

add_executable(ohos_legacy_echo_service ${OHOS_GLUE_DIR}/samgr_main.c
                                        ${CMAKE_CURRENT_SOURCE_DIR}/samples/echo_service.c)
ohos_program(ohos_legacy_echo_service ohos_legacy_samgr_objs ohos_legacy_ipc_objs)

add_executable(ohos_legacy_echo_client ${CMAKE_CURRENT_SOURCE_DIR}/samples/echo_client.c)
ohos_program(ohos_legacy_echo_client ohos_legacy_samgr_objs ohos_legacy_ipc_objs)

ohos_scenario_test(legacy ipc_lite ohos_legacy_samgr ohos_legacy_echo_service
                   ohos_legacy_echo_client)
