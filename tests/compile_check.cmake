# Compiles SOURCE with the project's include directories and checks the outcome:
#   EXPECT=pass: it must compile; EXPECT=fail: it must not, and the diagnostics must match REGEX.
# Used for tests that prove a misuse is refused at compile time (and, with a control build, that
# the refusal is the one meant and not, say, a missing include).
separate_arguments(flags UNIX_COMMAND "${FLAGS}")
set(include_flags "")
foreach(dir IN LISTS INCLUDES)
  list(APPEND include_flags "-I${dir}")
endforeach()
execute_process(COMMAND ${CXX} -std=c++17 -fsyntax-only ${flags} ${include_flags} ${SOURCE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(EXPECT STREQUAL "pass")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "expected ${SOURCE} to compile (${FLAGS}):\n${err}")
  endif()
else()
  if(rc EQUAL 0)
    message(FATAL_ERROR "expected ${SOURCE} NOT to compile (${FLAGS})")
  endif()
  if(NOT err MATCHES "${REGEX}")
    message(FATAL_ERROR "the compile error of ${SOURCE} does not say '${REGEX}':\n${err}")
  endif()
endif()
message(STATUS "compile check ${EXPECT}: ${SOURCE} (${FLAGS})")
