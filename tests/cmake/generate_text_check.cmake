# Text in, text out: generates from one prompt (streamed as it decodes, piece by piece) and from a
# batch of two copies of it (each decoded at the end); passes only if every run exits 0 and all
# three continuations are the same non-empty text. SAMBA, MODEL, TOKENIZER, PROMPT and NEW are set
# by the caller.
set(common generate --model ${MODEL} --tokenizer ${TOKENIZER} --max-new-tokens ${NEW} --ignore-eos)
execute_process(COMMAND ${SAMBA} ${common} --prompt ${PROMPT} RESULT_VARIABLE rc OUTPUT_VARIABLE single ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "one prompt: exited ${rc}:\n${err}")
endif()
execute_process(COMMAND ${SAMBA} ${common} --prompt ${PROMPT} --prompt ${PROMPT} RESULT_VARIABLE rc OUTPUT_VARIABLE batch ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "two prompts: exited ${rc}:\n${err}")
endif()
string(REGEX REPLACE "\n$" "" single "${single}")
string(REPLACE "\n" "\\n" single_escaped "${single}")  # the batch output's escaping
if(single STREQUAL "")
  message(FATAL_ERROR "one prompt: no text generated:\n${err}")
endif()
if(NOT batch STREQUAL "${single_escaped}\n${single_escaped}\n")
  message(FATAL_ERROR "the batch's lines differ from the streamed text\nstreamed: '${single}'\nbatch:\n${batch}")
endif()
message(STATUS "generated: '${single}'")
