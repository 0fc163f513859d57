# Finds everything Saddle needs and normalises the imported targets:
#   Kokkos::kokkos, MPI::MPI_CXX, saddle::hdf5, saddle::lapacke, toml11::toml11, GTest::gtest.
# Every package comes from Debian 12 (see jobs/local/install-deps.sh); nothing is downloaded.

# --- Kokkos ---------------------------------------------------------------------------------
# No version in find_package: Debian's KokkosConfigVersion.cmake (3.4.01) rejects ranges, and
# Kokkos 4.x releases declare SameMajorVersion compatibility, so asking for 3.4 would refuse a
# user's 4.x. The minimum is checked by hand instead.
find_package(Kokkos REQUIRED)
if(Kokkos_VERSION AND Kokkos_VERSION VERSION_LESS 3.4)
  message(FATAL_ERROR "Kokkos ${Kokkos_VERSION} found at ${Kokkos_DIR}; Saddle needs 3.4 or newer")
endif()
set_package_properties(Kokkos PROPERTIES TYPE REQUIRED PURPOSE "on-node parallel loops")
# Debian's libtrilinos-kokkos-dev sets the imported include path to <prefix>/include while the
# headers live in <prefix>/include/trilinos; repair the target whenever its path lacks the headers.
get_target_property(_saddle_kokkos_inc Kokkos::kokkos INTERFACE_INCLUDE_DIRECTORIES)
set(_saddle_kokkos_ok FALSE)
foreach(_dir IN LISTS _saddle_kokkos_inc)
  if(EXISTS "${_dir}/Kokkos_Core.hpp")
    set(_saddle_kokkos_ok TRUE)
  endif()
endforeach()
if(NOT _saddle_kokkos_ok)
  if(NOT Kokkos_INCLUDE_DIRS OR NOT EXISTS "${Kokkos_INCLUDE_DIRS}/Kokkos_Core.hpp")
    message(FATAL_ERROR "Kokkos found but Kokkos_Core.hpp is neither in '${_saddle_kokkos_inc}' "
                        "nor in Kokkos_INCLUDE_DIRS='${Kokkos_INCLUDE_DIRS}'")
  endif()
  get_filename_component(_saddle_kokkos_real "${Kokkos_INCLUDE_DIRS}" REALPATH)
  message(STATUS "Repairing Kokkos::kokkos include path: '${_saddle_kokkos_inc}' -> '${_saddle_kokkos_real}'")
  set_target_properties(Kokkos::kokkos PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_saddle_kokkos_real}")
endif()
if(NOT Kokkos_VERSION)
  set(Kokkos_VERSION "unknown")
endif()

# --- MPI -------------------------------------------------------------------------------------
find_package(MPI REQUIRED COMPONENTS C CXX)
set_package_properties(MPI PROPERTIES TYPE REQUIRED PURPOSE "distributed runs (Open MPI)")
# Open MPI refuses to start as root and to place more ranks than cores unless told; tests run
# 2 and 3 ranks on 2-core machines, often as root in containers.
set(SADDLE_MPIEXEC_PREFLAGS ${MPIEXEC_PREFLAGS})
execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _saddle_mpiexec_version ERROR_QUIET)
if(_saddle_mpiexec_version MATCHES "Open MPI|OpenRTE")
  list(APPEND SADDLE_MPIEXEC_PREFLAGS --oversubscribe)
  execute_process(COMMAND id -u OUTPUT_VARIABLE _saddle_uid OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(_saddle_uid STREQUAL "0")
    list(APPEND SADDLE_MPIEXEC_PREFLAGS --allow-run-as-root)
  endif()
endif()

# --- HDF5 (parallel) ---------------------------------------------------------------------------
set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 REQUIRED COMPONENTS C)
set_package_properties(HDF5 PROPERTIES TYPE REQUIRED PURPOSE "run files and checkpoints (parallel HDF5)")
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "HDF5 ${HDF5_VERSION} was found at '${HDF5_INCLUDE_DIRS}' but is not built with MPI; "
                      "install libhdf5-openmpi-dev (Debian) or point HDF5_ROOT at a parallel build")
endif()
add_library(saddle_hdf5 INTERFACE)
add_library(saddle::hdf5 ALIAS saddle_hdf5)
target_include_directories(saddle_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
target_compile_definitions(saddle_hdf5 INTERFACE ${HDF5_C_DEFINITIONS} ${HDF5_DEFINITIONS})
target_link_libraries(saddle_hdf5 INTERFACE ${HDF5_C_LIBRARIES} MPI::MPI_C)

# --- OpenBLAS + LAPACKE ----------------------------------------------------------------------
find_path(SADDLE_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas x86_64-linux-gnu/openblas-pthread)
find_path(SADDLE_LAPACKE_INCLUDE_DIR lapacke.h PATH_SUFFIXES openblas)
find_library(SADDLE_OPENBLAS_LIBRARY NAMES openblas)
find_library(SADDLE_LAPACKE_LIBRARY NAMES lapacke)
foreach(_v SADDLE_CBLAS_INCLUDE_DIR SADDLE_LAPACKE_INCLUDE_DIR SADDLE_OPENBLAS_LIBRARY SADDLE_LAPACKE_LIBRARY)
  if(NOT ${_v})
    message(FATAL_ERROR "${_v} not found: install libopenblas-dev and liblapacke-dev")
  endif()
endforeach()
set(SADDLE_LAPACKE_LIBRARIES ${SADDLE_LAPACKE_LIBRARY} ${SADDLE_OPENBLAS_LIBRARY})
add_library(saddle_lapacke INTERFACE)
add_library(saddle::lapacke ALIAS saddle_lapacke)
target_include_directories(saddle_lapacke SYSTEM INTERFACE ${SADDLE_CBLAS_INCLUDE_DIR} ${SADDLE_LAPACKE_INCLUDE_DIR})
target_link_libraries(saddle_lapacke INTERFACE ${SADDLE_LAPACKE_LIBRARIES})

# --- toml11, GoogleTest ------------------------------------------------------------------------
find_package(toml11 3.7 REQUIRED)
set_package_properties(toml11 PROPERTIES TYPE REQUIRED PURPOSE "input decks")
if(SADDLE_ENABLE_TESTS)
  find_package(GTest REQUIRED)
  set_package_properties(GTest PROPERTIES TYPE REQUIRED PURPOSE "unit and MPI tests")
endif()

# --- CUDA Toolkit, cuBLAS, cuSOLVER, NCCL: optional, see cmake/SaddleCuda.cmake ---------------

# --- GLPK (the mail workload's reference LP solver and stage-game fallback) ---------------------
find_path(SADDLE_GLPK_INCLUDE_DIR glpk.h)
find_library(SADDLE_GLPK_LIBRARY NAMES glpk)
if(NOT SADDLE_GLPK_INCLUDE_DIR OR NOT SADDLE_GLPK_LIBRARY)
  message(FATAL_ERROR "GLPK not found (glpk.h: '${SADDLE_GLPK_INCLUDE_DIR}', library: '${SADDLE_GLPK_LIBRARY}'): "
                      "install libglpk-dev (Debian; jobs/local/install-deps.sh) or set SADDLE_GLPK_INCLUDE_DIR and SADDLE_GLPK_LIBRARY")
endif()
add_library(saddle_glpk INTERFACE)
add_library(saddle::glpk ALIAS saddle_glpk)
target_include_directories(saddle_glpk SYSTEM INTERFACE ${SADDLE_GLPK_INCLUDE_DIR})
target_link_libraries(saddle_glpk INTERFACE ${SADDLE_GLPK_LIBRARY})

# --- SLEPc/PETSc and ScaLAPACK (ksvd's krylov and distributed exact methods) -------------------
# Debian 12: libslepc-real-dev (SLEPc 3.18 on PETSc 3.18, both over Open MPI) and
# libscalapack-openmpi-dev (ScaLAPACK 2.2 with BLACS); found through their pkg-config files.
find_package(PkgConfig REQUIRED)
pkg_check_modules(SADDLE_SLEPC IMPORTED_TARGET slepc)
pkg_check_modules(SADDLE_PETSC IMPORTED_TARGET PETSc)
pkg_check_modules(SADDLE_SCALAPACK IMPORTED_TARGET scalapack-openmpi)
if(NOT SADDLE_SLEPC_FOUND OR NOT SADDLE_PETSC_FOUND)
  message(FATAL_ERROR "SLEPc/PETSc not found by pkg-config (slepc.pc, PETSc.pc): install libslepc-real-dev "
                      "(Debian; jobs/local/install-deps.sh) or add your SLEPc and PETSc lib/pkgconfig to PKG_CONFIG_PATH")
endif()
if(NOT SADDLE_SCALAPACK_FOUND)
  message(FATAL_ERROR "ScaLAPACK not found by pkg-config (scalapack-openmpi.pc): install libscalapack-openmpi-dev "
                      "(Debian; jobs/local/install-deps.sh) or add your ScaLAPACK's pkgconfig folder to PKG_CONFIG_PATH")
endif()
add_library(saddle_slepc INTERFACE)
add_library(saddle::slepc ALIAS saddle_slepc)
target_link_libraries(saddle_slepc INTERFACE PkgConfig::SADDLE_SLEPC PkgConfig::SADDLE_PETSC MPI::MPI_C)
add_library(saddle_scalapack INTERFACE)
add_library(saddle::scalapack ALIAS saddle_scalapack)
target_link_libraries(saddle_scalapack INTERFACE PkgConfig::SADDLE_SCALAPACK MPI::MPI_C)
