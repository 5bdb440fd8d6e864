# cmboot_embed_files(OUT SYMBOL DIR NAMES): generates OUT, a C file holding DIR/NAME for each of NAMES as
# const data in a table named SYMBOL (see embed-files.cmake); regenerated when a file or the script changes.
function(cmboot_embed_files out symbol dir names)
  set(deps ${CMAKE_SOURCE_DIR}/cmake/embed-files.cmake)
  foreach(n IN LISTS names)
    list(APPEND deps ${dir}/${n})
  endforeach()
  string(REPLACE ";" "," joined "${names}")
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DSYMBOL=${symbol} -DDIR=${dir} -DNAMES=${joined}
            -P ${CMAKE_SOURCE_DIR}/cmake/embed-files.cmake
    DEPENDS ${deps}
    COMMENT "Generating ${symbol} (${joined})"
    VERBATIM)
endfunction()
