# INTERFACE targets carrying the language level, warnings-as-errors and optional sanitizers.
add_library(sungrow_options INTERFACE)
add_library(sungrow::options ALIAS sungrow_options)
target_compile_features(sungrow_options INTERFACE cxx_std_20)
target_compile_options(sungrow_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Wnull-dereference)
# On in every preset and in CI; off by default so a packager's newer compiler, with warnings
# these sources have never met, still builds.
if(SUNGROW_WERROR)
  target_compile_options(sungrow_options INTERFACE -Werror)
endif()

if(SUNGROW_SANITIZE)
  target_compile_options(sungrow_options INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(sungrow_options INTERFACE -fsanitize=address,undefined)
endif()
