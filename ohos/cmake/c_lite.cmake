# SPDX-License-Identifier: Apache-2.0
# communication_ipc's own C IPC tests (test/unittest/c_lite/ipc): its samgr, server and client
# programs (googletest, C++), built unchanged against the current path's IPC objects, and run
# together by tests/c_lite.sh as the CTest entry ohos_ipc_c_lite. googletest is built from its
# sources (Debian's googletest package: /usr/src/googletest), with this build's flags (-m32).
if(NOT TARGET ohos_current_ipc_objs)
  ohos_skip_test(ohos_ipc_c_lite
    "communication_ipc's c_lite tests need the current path's sources (OHOS_SOURCE_DIR): see docs/OPENHARMONY.md")
  return()
endif()
set(OHOS_GTEST_DIR /usr/src/googletest/googletest CACHE PATH "googletest's sources")
set(_t ${OHOS_IPC_DIR}/test/unittest/c_lite/ipc)
include(CheckLanguage)
check_language(CXX)
if(NOT CMAKE_CXX_COMPILER OR NOT EXISTS ${OHOS_GTEST_DIR}/src/gtest-all.cc
   OR NOT EXISTS ${_t}/samgr/IpcSamgrTest.cpp)
  message(STATUS "ohos: communication_ipc's c_lite tests need a C++ compiler, googletest's "
                 "sources (OHOS_GTEST_DIR=${OHOS_GTEST_DIR}) and ${_t}")
  ohos_skip_test(ohos_ipc_c_lite
    "communication_ipc's c_lite tests need a C++ compiler, googletest's sources (OHOS_GTEST_DIR) and ${_t}")
  return()
endif()
enable_language(CXX)

add_library(ohos_gtest STATIC ${OHOS_GTEST_DIR}/src/gtest-all.cc ${OHOS_GTEST_DIR}/src/gtest_main.cc)
target_include_directories(ohos_gtest SYSTEM PUBLIC ${OHOS_GTEST_DIR}/include PRIVATE ${OHOS_GTEST_DIR})
target_compile_options(ohos_gtest PRIVATE -w)
target_link_libraries(ohos_gtest PUBLIC Threads::Threads)

foreach(prog samgr server client)
  set(_target ohos_ipc_c_lite_${prog})
  file(GLOB _src ${_t}/${prog}/*.cpp)
  add_executable(${_target} ${_src})
  target_include_directories(${_target} SYSTEM PRIVATE ${_t}/include ${OHOS_IPC_DIR}/ipc/native/c/manager/include
                             ${OHOS_IPC_DIR}/ipc/native/c/ipc/include ${OHOS_IPC_DIR}/utils/include)
  # -fpermissive: the server passes a void *(*)(const void *) to pthread_create
  target_compile_options(${_target} PRIVATE -w -fpermissive -include ohos_gtest_ext.h)
  ohos_program(${_target} ohos_current_ipc_objs ohos_gtest)
endforeach()

if(OHOS_TESTS)
  if(NOT OHOS_ABI_READY)
    ohos_skip_test(ohos_ipc_c_lite
      "64-bit OpenHarmony stacks need the simulator's per-process ABI profiles (LITEIPC_ABI=communication_ipc), not in this tree: build with -m32")
    return()
  endif()
  add_test(NAME ohos_ipc_c_lite
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/c_lite.sh $<TARGET_FILE:liteipcd>
                   $<TARGET_FILE:ohos_ipc_c_lite_samgr> $<TARGET_FILE:ohos_ipc_c_lite_server>
                   $<TARGET_FILE:ohos_ipc_c_lite_client>)
  set(_env "")
  if(NOT CMAKE_SIZEOF_VOID_P EQUAL 4)
    set(_env "LITEIPC_ABI=communication_ipc")
  endif()
  set_tests_properties(ohos_ipc_c_lite PROPERTIES TIMEOUT 60 ENVIRONMENT "${_env}")
endif()
