# Sanitizer and fuzzing builds of every Saddle target (docs/development.md):
#   SADDLE_SANITIZE  AddressSanitizer + UBSan (gcc or clang); undefined behaviour aborts instead of
#                    printing and going on, so that no test or fuzzer passes over it.
#   SADDLE_FUZZ      clang only: SADDLE_SANITIZE plus libFuzzer's coverage instrumentation, and
#                    the fuzz targets of tests/fuzz.
if(SADDLE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "SADDLE_FUZZ needs clang's libFuzzer, but the C++ compiler is ${CMAKE_CXX_COMPILER_ID}: "
                        "configure a fresh build directory with the 'fuzz' preset or -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang")
  endif()
  set(SADDLE_SANITIZE ON)
  target_compile_options(saddle_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
if(SADDLE_SANITIZE)
  target_compile_options(saddle_options INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(saddle_options INTERFACE -fsanitize=address,undefined)
endif()
