# xfed_unit_test(NAME name SOURCES a.c ... LIBS lib ... LABELS part kind ...)
# Builds a cmocka test program and registers it with ctest.
function(xfed_unit_test)
    cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS;LABELS" ${ARGN})
    add_executable(${T_NAME} ${T_SOURCES})
    target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
    add_test(NAME ${T_NAME} COMMAND ${T_NAME})
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT 120)
endfunction()

# xfed_script_test(NAME name COMMAND cmd ... LABELS ... [TIMEOUT s])
# Registers a command-level test (shell or python) that drives real binaries.
# The binaries' directory is passed in XFED_BIN.
function(xfed_script_test)
    cmake_parse_arguments(T "" "NAME;TIMEOUT" "COMMAND;LABELS" ${ARGN})
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 300)
    endif()
    add_test(NAME ${T_NAME} COMMAND ${T_COMMAND})
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}"
        TIMEOUT ${T_TIMEOUT}
        ENVIRONMENT "XFED_BIN=${CMAKE_BINARY_DIR}/bin;XFED_SRC=${CMAKE_SOURCE_DIR}")
endfunction()
