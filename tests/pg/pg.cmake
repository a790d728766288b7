# PostgreSQL test server as a ctest fixture, for the store's PostgreSQL
# backend.  Include from tests/CMakeLists.txt:
#
#   include(${CMAKE_CURRENT_SOURCE_DIR}/pg/pg.cmake)
#
# It defines
#   pg/start   FIXTURES_SETUP pg: tests/pg/start-pg.sh DIR
#   pg/stop    FIXTURES_CLEANUP pg: tests/pg/stop-pg.sh DIR (by PID)
# with DIR = ${CMAKE_BINARY_DIR}/pg-server, and the function
#
#   vl_pg_test(<test name> <command> [args...])
#
# which adds a test that needs the server: FIXTURES_REQUIRED pg, LABELS
# pg, run through tests/pg/with-pg.sh so that the server's URI
# (postgresql://mailvet@127.0.0.1:PORT/mailvet) is its last argument.
# ctest runs pg/start before and pg/stop after any selection of such
# tests (`ctest -L pg`), and not at all when none is selected.
#
# Needs the Debian package postgresql (initdb, pg_ctl, createdb) and, for
# the CLI test, psql.

set(VL_PG_DIR ${CMAKE_BINARY_DIR}/pg-server)
set(VL_PG_SCRIPTS ${CMAKE_CURRENT_LIST_DIR})

file(GLOB VL_PG_INITDB /usr/lib/postgresql/*/bin/initdb)
if(NOT VL_PG_INITDB)
  message(STATUS "PostgreSQL tests: no initdb under /usr/lib/postgresql; "
                 "the pg/ tests will fail until the Debian package "
                 "postgresql is installed")
endif()

add_test(NAME pg/start COMMAND ${VL_PG_SCRIPTS}/start-pg.sh ${VL_PG_DIR})
set_tests_properties(pg/start PROPERTIES FIXTURES_SETUP pg LABELS pg
  TIMEOUT 120)
add_test(NAME pg/stop COMMAND ${VL_PG_SCRIPTS}/stop-pg.sh ${VL_PG_DIR})
set_tests_properties(pg/stop PROPERTIES FIXTURES_CLEANUP pg LABELS pg
  TIMEOUT 60)

function(vl_pg_test name)
  if(ARGC LESS 2)
    message(FATAL_ERROR "vl_pg_test(${name}): no command given")
  endif()
  add_test(NAME ${name}
    COMMAND ${VL_PG_SCRIPTS}/with-pg.sh ${VL_PG_DIR}/env ${ARGN})
  set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED pg LABELS pg)
endfunction()
