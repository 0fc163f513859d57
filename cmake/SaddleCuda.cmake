# CUDA: SADDLE_ENABLE_CUDA = AUTO (default) | ON | OFF, at one of two levels.
#   device:  the Kokkos found has the CUDA backend. Saddle itself is built with SADDLE_HAVE_CUDA=1
#            and links saddle_cuda (cudart, cuBLAS, cuSOLVER, NCCL): the CUDA linalg backend and
#            the device collectives are used at run time.
#   toolkit: Kokkos is host-only but the CUDA Toolkit (cudart, cuBLAS, cuSOLVER) and NCCL are
#            found. The wrappers (host C++ calling the CUDA C APIs; no nvcc) are compiled into
#            saddle_cuda and linked into the tests of tests/cuda only, so they cannot rot; the
#            saddle binary stays host-only. Their run-time tests skip without a device.
# OFF builds nothing CUDA. ON without the toolkit, cuBLAS, cuSOLVER or NCCL stops with the missing
# pieces named; AUTO without them is silently off (the summary says so).
# Sets SADDLE_CUDA_LEVEL (off, toolkit, device), SADDLE_CUDA_SUMMARY and, unless off, the target
# saddle_cuda.
# saddle_add_cuda_library(): called from the top-level CMakeLists.txt once saddle_engine exists.
function(saddle_add_cuda_library)
  if(SADDLE_CUDA_LEVEL STREQUAL "off")
    return()
  endif()
  add_library(saddle_cuda STATIC
    ${PROJECT_SOURCE_DIR}/kernels/linalg/cuda_backend.cpp
    ${PROJECT_SOURCE_DIR}/engine/device_comm.cpp)
  target_include_directories(saddle_cuda PUBLIC ${PROJECT_SOURCE_DIR})
  # SADDLE_HAVE_CUDA_LIBS: the CUDA wrappers are linked (kernels/linalg/select.hpp asks the
  # runtime where a pointer lives). Everything linking saddle_cuda sees it.
  target_compile_definitions(saddle_cuda PUBLIC SADDLE_HAVE_CUDA_LIBS=1)
  target_link_libraries(saddle_cuda
    PUBLIC saddle_engine CUDA::cudart CUDA::cublas CUDA::cusolver saddle::nccl MPI::MPI_CXX
    PRIVATE saddle_options)
  if(SADDLE_CUDA_LEVEL STREQUAL "device")
    # Saddle itself uses the CUDA paths: the engine resolves parallel.device_collectives at run
    # time. saddle_engine and saddle_cuda need each other (static libraries; CMake repeats them).
    target_compile_definitions(saddle_kernels INTERFACE SADDLE_HAVE_CUDA=1)
    target_link_libraries(saddle_engine PUBLIC saddle_cuda)
  endif()
endfunction()

set(SADDLE_ENABLE_CUDA AUTO CACHE STRING "CUDA paths: AUTO (when the toolkit and NCCL are found), ON (required) or OFF")
set_property(CACHE SADDLE_ENABLE_CUDA PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${SADDLE_ENABLE_CUDA}" _saddle_cuda_mode)
if(NOT _saddle_cuda_mode MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "SADDLE_ENABLE_CUDA='${SADDLE_ENABLE_CUDA}': expected AUTO, ON or OFF")
endif()

string(TOUPPER "${Kokkos_DEVICES}" _saddle_kokkos_devices)
set(SADDLE_KOKKOS_HAS_CUDA FALSE)
if("CUDA" IN_LIST _saddle_kokkos_devices)
  set(SADDLE_KOKKOS_HAS_CUDA TRUE)
endif()

set(SADDLE_CUDA_LEVEL off)
if(_saddle_cuda_mode STREQUAL "OFF" AND SADDLE_KOKKOS_HAS_CUDA)
  # The networks and the ksvd tiles on Kokkos's default execution space need cuBLAS there.
  message(FATAL_ERROR "SADDLE_ENABLE_CUDA=OFF with a Kokkos that has the CUDA backend: Saddle's kernels on the device need "
                      "cuBLAS/cuSOLVER (saddle_cuda). Use AUTO or ON, or a host-only Kokkos.")
endif()
if(_saddle_cuda_mode STREQUAL "OFF")
  set(SADDLE_CUDA_SUMMARY "not used (SADDLE_ENABLE_CUDA=OFF); level off")
  return()
endif()

find_package(CUDAToolkit QUIET)
set(_saddle_cuda_missing)
if(NOT CUDAToolkit_FOUND)
  list(APPEND _saddle_cuda_missing "the CUDA Toolkit (find_package(CUDAToolkit); set CUDAToolkit_ROOT)")
else()
  foreach(_t cudart cublas cusolver)
    if(NOT TARGET CUDA::${_t})
      list(APPEND _saddle_cuda_missing "CUDA::${_t} (in the toolkit at ${CUDAToolkit_LIBRARY_DIR})")
    endif()
  endforeach()
endif()
find_path(SADDLE_NCCL_INCLUDE_DIR nccl.h
  HINTS ${NCCL_ROOT} $ENV{NCCL_ROOT} ${CUDAToolkit_INCLUDE_DIRS} ${CUDAToolkit_LIBRARY_ROOT} /usr/local/cuda
  PATH_SUFFIXES include)
find_library(SADDLE_NCCL_LIBRARY NAMES nccl
  HINTS ${NCCL_ROOT} $ENV{NCCL_ROOT} ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT} /usr/local/cuda/lib64
  PATH_SUFFIXES lib lib64)
if(NOT SADDLE_NCCL_INCLUDE_DIR OR NOT SADDLE_NCCL_LIBRARY)
  list(APPEND _saddle_cuda_missing "NCCL (nccl.h: '${SADDLE_NCCL_INCLUDE_DIR}', libnccl: '${SADDLE_NCCL_LIBRARY}'; set NCCL_ROOT)")
endif()

if(_saddle_cuda_missing)
  list(JOIN _saddle_cuda_missing "; " _saddle_cuda_missing_text)
  if(_saddle_cuda_mode STREQUAL "ON" OR SADDLE_KOKKOS_HAS_CUDA)
    # A Kokkos with CUDA and no usable toolkit cannot build Saddle's device level either.
    if(SADDLE_KOKKOS_HAS_CUDA)
      set(_saddle_cuda_why " and Kokkos has the CUDA backend (devices ${Kokkos_DEVICES})")
    endif()
    message(FATAL_ERROR "SADDLE_ENABLE_CUDA=${SADDLE_ENABLE_CUDA}${_saddle_cuda_why}, but missing: "
                        "${_saddle_cuda_missing_text}")
  endif()
  if(CUDAToolkit_FOUND)
    set(SADDLE_CUDA_SUMMARY "${CUDAToolkit_VERSION} at ${CUDAToolkit_BIN_DIR}; level off (AUTO: missing ${_saddle_cuda_missing_text})")
  else()
    set(SADDLE_CUDA_SUMMARY "not found; level off (AUTO)")
  endif()
  return()
endif()

if(SADDLE_KOKKOS_HAS_CUDA)
  set(SADDLE_CUDA_LEVEL device)
else()
  set(SADDLE_CUDA_LEVEL toolkit)
endif()
set(SADDLE_CUDA_SUMMARY "${CUDAToolkit_VERSION} at ${CUDAToolkit_BIN_DIR}, NCCL ${SADDLE_NCCL_LIBRARY}; level ${SADDLE_CUDA_LEVEL}")
if(SADDLE_CUDA_LEVEL STREQUAL "toolkit")
  string(APPEND SADDLE_CUDA_SUMMARY " (Kokkos devices ${Kokkos_DEVICES}: wrappers compiled and linked into tests/cuda only)")
endif()

add_library(saddle_nccl INTERFACE)
add_library(saddle::nccl ALIAS saddle_nccl)
target_include_directories(saddle_nccl SYSTEM INTERFACE ${SADDLE_NCCL_INCLUDE_DIR})
target_link_libraries(saddle_nccl INTERFACE ${SADDLE_NCCL_LIBRARY})
