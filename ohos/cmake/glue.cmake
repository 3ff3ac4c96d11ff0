# SPDX-License-Identifier: Apache-2.0
# The pieces shared by both paths: bounds_checking_function, cJSON (the ServiceManager reads
# its system capabilities with it) and the project's glue (log, thread creation).
if(_common_missing)
  return()
endif()

# Upstream code is compiled as it is, warnings off: its warnings are not this project's.
set(OHOS_UPSTREAM_OPTIONS -w)

file(GLOB _securec_sources ${OHOS_SECUREC_DIR}/src/*.c)
add_library(ohos_securec STATIC ${_securec_sources})
target_include_directories(ohos_securec SYSTEM PUBLIC ${OHOS_SECUREC_DIR}/include)
target_compile_options(ohos_securec PRIVATE ${OHOS_UPSTREAM_OPTIONS})

add_library(ohos_cjson STATIC ${OHOS_CJSON_DIR}/cJSON.c)
target_include_directories(ohos_cjson SYSTEM PUBLIC ${OHOS_CJSON_DIR})
target_compile_options(ohos_cjson PRIVATE ${OHOS_UPSTREAM_OPTIONS})
target_link_libraries(ohos_cjson PUBLIC m)

# The headers every OpenHarmony file expects, the glue's first (log.h, hilog/log.h).
add_library(ohos_platform INTERFACE)
target_include_directories(ohos_platform SYSTEM INTERFACE
  ${OHOS_GLUE_DIR}/include
  ${OHOS_UTILS_LITE_DIR}/include
  ${OHOS_PERMISSION_LITE_DIR}/interfaces/innerkits
  ${OHOS_PERMISSION_LITE_DIR}/services/ipc_auth/include
  ${OHOS_PERMISSION_LITE_DIR}/services/pms_base/include)
# init functions as constructors (ohos_init.h), as samgr_lite's shared-library build does
target_compile_definitions(ohos_platform INTERFACE LAYER_INIT_SHARED_LIB SHARED_TASK_STACK_SIZE=2048)
target_link_libraries(ohos_platform INTERFACE ohos_securec Threads::Threads rt)

add_library(ohos_glue STATIC ${OHOS_GLUE_DIR}/hilog.c ${OHOS_GLUE_DIR}/thread.c)
target_link_libraries(ohos_glue PUBLIC ohos_platform)
target_compile_definitions(ohos_glue PRIVATE _GNU_SOURCE)

# samgr_lite's objects for a path: the framework and its posix adapter (the same files in both
# revisions), plus the endpoint and remote-client files of that revision (ARGN), over ipc.
function(ohos_samgr_objects target dir ipc)
  add_library(${target} OBJECT
    ${dir}/samgr/source/common.c ${dir}/samgr/source/feature.c ${dir}/samgr/source/iunknown.c
    ${dir}/samgr/source/message.c ${dir}/samgr/source/samgr_lite.c ${dir}/samgr/source/service.c
    ${dir}/samgr/source/task_manager.c
    ${dir}/samgr/adapter/posix/lock_free_queue.c ${dir}/samgr/adapter/posix/memory_adapter.c
    ${dir}/samgr/adapter/posix/queue_adapter.c ${dir}/samgr/adapter/posix/thread_adapter.c
    ${dir}/samgr/adapter/posix/time_adapter.c ${ARGN})
  target_include_directories(${target} SYSTEM PUBLIC
    ${dir}/interfaces/kits/samgr ${dir}/interfaces/kits/registry ${dir}/samgr/adapter
    ${dir}/samgr/registry ${dir}/samgr_endpoint/source ${dir}/samgr_client/source
    PRIVATE ${dir}/samgr_server/source)
  target_link_libraries(${target} PUBLIC ${ipc} ohos_platform)
  target_compile_options(${target} PRIVATE ${OHOS_UPSTREAM_OPTIONS})
endfunction()

# Link a program of a path: the upstream objects, the glue, and the compat library, which
# routes /dev/lite_ipc to the simulator. --wrap=pthread_create: see glue/thread.c.
function(ohos_program target)
  target_link_libraries(${target} PRIVATE ${ARGN} ohos_glue liteipc::compat)
  target_link_options(${target} PRIVATE "LINKER:--wrap=pthread_create")
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
endfunction()

# The scenarios of a path as CTest entries (tests/scenario.sh): ohos_<path>_kill (liteipcd with
# a short reply timeout, the ServiceManager, the sample service, a client's call, kill -9 of the
# service mid-call) and ohos_<path>_ipc_auth (a policy file refuses the client the feature).
function(ohos_scenario_test path abi samgr service client)
  if(NOT OHOS_TESTS)
    return()
  endif()
  foreach(mode kill ipc_auth)
    set(name ohos_${path}_${mode})
    if(NOT OHOS_ABI_READY)
      ohos_skip_test(${name}
        "64-bit OpenHarmony stacks need the simulator's per-process ABI profiles (LITEIPC_ABI=${abi}), not in this tree: build with -m32")
      continue()
    endif()
    string(REPLACE ipc_auth policy word ${mode})
    add_test(NAME ${name}
             COMMAND bash ${OHOS_TEST_SCRIPT} $<TARGET_FILE:liteipcd> $<TARGET_FILE:${samgr}>
                     $<TARGET_FILE:${service}> $<TARGET_FILE:${client}> ${path} ${word})
    set(env "")
    if(NOT CMAKE_SIZEOF_VOID_P EQUAL 4)
      set(env "LITEIPC_ABI=${abi}")
    endif()
    set_tests_properties(${name} PROPERTIES TIMEOUT 60 ENVIRONMENT "${env}")
  endforeach()
endfunction()
