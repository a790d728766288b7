# Included by tests/CMakeLists.txt: the ordinary build replays each
# harness's seed corpus (fuzz/corpus/<name>/) through the harness code
# with a plain main() (replay.c), as a unit test, so the ASan+UBSan pass
# of scripts/test runs it too.  No libFuzzer needed: any compiler.
function(vl_fuzz_replay name)
  set(dir ${CMAKE_CURRENT_FUNCTION_LIST_DIR})
  add_executable(replay_${name} ${dir}/fuzz_${name}.c ${dir}/replay.c)
  target_link_libraries(replay_${name} PRIVATE validate_obj)
  target_include_directories(replay_${name} PRIVATE
    ${PROJECT_SOURCE_DIR}/libvalidate/src)
  target_compile_definitions(replay_${name} PRIVATE _GNU_SOURCE)
  add_test(NAME fuzz/replay_${name}
    COMMAND replay_${name} ${dir}/corpus/${name})
  set_tests_properties(fuzz/replay_${name} PROPERTIES LABELS unit)
endfunction()

vl_fuzz_replay(syntax)
vl_fuzz_replay(dns)
vl_fuzz_replay(smtp)

# The bounce reader lives in the CLI (it needs GMime, the library does
# not): its replay compiles cli/dsn.c in.
add_executable(replay_dsn ${CMAKE_CURRENT_LIST_DIR}/fuzz_dsn.c
  ${CMAKE_CURRENT_LIST_DIR}/replay.c ${PROJECT_SOURCE_DIR}/cli/dsn.c)
target_include_directories(replay_dsn PRIVATE ${PROJECT_SOURCE_DIR}/cli)
target_link_libraries(replay_dsn PRIVATE PkgConfig::GMIME)
target_compile_definitions(replay_dsn PRIVATE _GNU_SOURCE)
add_test(NAME fuzz/replay_dsn
  COMMAND replay_dsn ${CMAKE_CURRENT_LIST_DIR}/corpus/dsn)
set_tests_properties(fuzz/replay_dsn PROPERTIES LABELS unit)

# The CSV reader (cli/csv.c) is the program's: link its library instead.
add_executable(replay_csv ${CMAKE_CURRENT_LIST_DIR}/fuzz_csv.c
  ${CMAKE_CURRENT_LIST_DIR}/replay.c)
target_link_libraries(replay_csv PRIVATE mailvet_cli)
target_compile_definitions(replay_csv PRIVATE _GNU_SOURCE)
add_test(NAME fuzz/replay_csv
  COMMAND replay_csv ${CMAKE_CURRENT_LIST_DIR}/corpus/csv)
set_tests_properties(fuzz/replay_csv PROPERTIES LABELS unit)
