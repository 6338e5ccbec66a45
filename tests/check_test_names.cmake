# A ';' in a doctest name splits its ctest entry in two, each matching no test case and passing
# without running anything (docs/platform.md, ctest pitfalls). No test name may contain one.
file(GLOB_RECURSE sources ${ROOT}/tests/*.cpp)
set(problems "")
foreach(src IN LISTS sources)
  file(READ ${src} text)
  string(REPLACE ";" "@SEMI@" text "${text}")  # before any list operation
  string(REGEX MATCHALL "TEST_CASE\\(\"[^\"]*\"([ \t\r\n]*\"[^\"]*\")*" names "${text}")
  foreach(name IN LISTS names)
    if(name MATCHES "@SEMI@")
      string(REPLACE "@SEMI@" ";" shown "${name}")
      string(APPEND problems "${src}: ${shown}\n")
    endif()
  endforeach()
endforeach()
if(problems)
  message(FATAL_ERROR "test names with ';' (ctest would run nothing for them):\n${problems}")
endif()
message(STATUS "no test name contains ';'")
