# Runs CMD (a ;-list) and passes only if it exits 0 with stdout matching EXPECT (ctest's own
# PASS_REGULAR_EXPRESSION ignores the exit status).
execute_process(COMMAND ${CMD} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "exited ${rc}; stdout:\n${out}\nstderr:\n${err}")
endif()
if(NOT out MATCHES "${EXPECT}")
  message(FATAL_ERROR "stdout does not match '${EXPECT}':\n${out}\nstderr:\n${err}")
endif()
message(STATUS "${out}")
