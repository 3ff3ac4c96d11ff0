# SPDX-License-Identifier: Apache-2.0
# The current path: communication_ipc's C IPC (ipc_skeleton, the liteos_a invoker over
# /dev/lite_ipc, the serializer) under samgr_lite HEAD's *_rpc.c files. Upstream files are
# compiled unchanged; the glue supplies the platform.
ohos_path_ready(_ready current "communication_ipc + samgr_lite" OHOS_IPC_DIR OHOS_SAMGR_LITE_DIR)
if(NOT _ready)
  return()
endif()
message(STATUS "ohos: current path from ${OHOS_IPC_DIR} and ${OHOS_SAMGR_LITE_DIR}")

set(_c ${OHOS_IPC_DIR}/ipc/native/c)
set(_s ${OHOS_SAMGR_LITE_DIR})

# communication_ipc, as its liteos_a "ipc_single" library (with rpc_log and rpc_adapter)
add_library(ohos_current_ipc_objs OBJECT
  ${_c}/manager/src/ipc_process_skeleton.c ${_c}/manager/src/ipc_skeleton.c
  ${_c}/manager/src/ipc_thread_pool.c ${_c}/manager/src/iremote_invoker.c
  ${_c}/manager/src/serializer.c ${_c}/manager/src/rpc_log.c
  ${_c}/ipc/src/liteos_a/ipc_invoker.c ${_c}/ipc/src/liteos_a/serializer_inner.c
  ${_c}/rpc/src/rpc_process_skeleton_virtual.c ${_c}/adapter/Linux/rpc_os_adapter.c)
target_include_directories(ohos_current_ipc_objs SYSTEM PUBLIC
  ${OHOS_IPC_DIR}/interfaces/innerkits/c/ipc/include
  ${OHOS_IPC_DIR}/interfaces/innerkits/c/dbinder/include
  PRIVATE ${_c}/ipc/include ${_c}/manager/include ${_c}/rpc/include
  ${_c}/ipc/src/liteos_a/include ${_c}/rpc/trans_adapter/include ${_c}/adapter/include
  ${OHOS_IPC_DIR}/dbinder/c/include ${OHOS_IPC_DIR}/utils/include)
target_link_libraries(ohos_current_ipc_objs PUBLIC ohos_platform)
target_compile_options(ohos_current_ipc_objs PRIVATE ${OHOS_UPSTREAM_OPTIONS})
# the device's build: the liteos_a invoker opens LITEIPC_DRIVER, defined for __LITEOS_A__ only
target_compile_definitions(ohos_current_ipc_objs PRIVATE __LITEOS_A__)

# samgr_lite HEAD: the framework, its posix adapter, the rpc endpoint and remote client
ohos_samgr_objects(ohos_current_samgr_objs ${_s} ohos_current_ipc_objs
  ${_s}/samgr_client/source/remote_register_rpc.c
  ${_s}/samgr_endpoint/source/client_factory.c ${_s}/samgr_endpoint/source/default_client_rpc.c
  ${_s}/samgr_endpoint/source/default_client_small_adapter.c
  ${_s}/samgr_endpoint/source/endpoint_rpc.c
  ${_s}/samgr_endpoint/source/samgr_small_ipc_adapter.c
  ${_s}/samgr_endpoint/source/token_bucket.c)

# samgr_server_rpc: the ServiceManager's service, and its store of endpoints
add_library(ohos_current_server_objs OBJECT ${_s}/samgr_server/source/samgr_server_rpc.c
                                            ${_s}/samgr_endpoint/source/sa_store.c)
target_include_directories(ohos_current_server_objs PRIVATE ${_s}/samgr_server/source)
target_link_libraries(ohos_current_server_objs PUBLIC ohos_current_samgr_objs ohos_cjson)
target_compile_options(ohos_current_server_objs PRIVATE ${OHOS_UPSTREAM_OPTIONS})

add_executable(ohos_current_samgr ${OHOS_GLUE_DIR}/samgr_main.c ${OHOS_GLUE_DIR}/ipc_auth.c)
ohos_program(ohos_current_samgr ohos_current_server_objs ohos_current_samgr_objs
             ohos_current_ipc_objs ohos_cjson)

add_executable(ohos_current_echo_service ${OHOS_GLUE_DIR}/samgr_main.c
                                         ${CMAKE_CURRENT_SOURCE_DIR}/samples/echo_service.c)
ohos_program(ohos_current_echo_service ohos_current_samgr_objs ohos_current_ipc_objs)
target_compile_definitions(ohos_current_echo_service PRIVATE OHOS_SAMPLE_RPC)

add_executable(ohos_current_echo_client ${CMAKE_CURRENT_SOURCE_DIR}/samples/echo_client.c)
ohos_program(ohos_current_echo_client ohos_current_samgr_objs ohos_current_ipc_objs)
target_compile_definitions(ohos_current_echo_client PRIVATE OHOS_SAMPLE_RPC)

ohos_scenario_test(current communication_ipc ohos_current_samgr ohos_current_echo_service
                   ohos_current_echo_client)
