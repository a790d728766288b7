# DNS integration-test servers as a ctest fixture.  Include from
# tests/CMakeLists.txt:
#
#   include(${CMAKE_CURRENT_SOURCE_DIR}/dns/dns.cmake)
#
# It defines
#   dns/start     FIXTURES_SETUP dns: tests/dns/start-servers.sh DIR --bulk N
#   dns/stop      FIXTURES_CLEANUP dns: tests/dns/stop-servers.sh DIR
#   dns/selftest  checks the servers answer what tests/dns/README.md says
# with DIR = ${CMAKE_BINARY_DIR}/dns-servers, and the function
#
#   vl_dns_test(<test name> <command> [args...])
#
# which adds a test that needs the servers: FIXTURES_REQUIRED dns,
# LABELS dns, and MAILVET_DNS_ENV=DIR/env in its environment (the file
# of KEY=VALUE lines with the ports, logs and pidfiles).  ctest runs
# dns/start before and dns/stop after any selection of such tests
# (`ctest -L dns`, `ctest -R dns/...`), and not at all when none is
# selected (e.g. `ctest -L unit`).
#
# Needs the Debian packages nsd and unbound, and python3.

set(MAILVET_DNS_BULK 50000 CACHE STRING
    "Bulk domains dNNNNN.bulk.mvtest. in the DNS test zone (0-99999)")

set(VL_DNS_DIR ${CMAKE_BINARY_DIR}/dns-servers)
set(VL_DNS_ENV ${VL_DNS_DIR}/env)
set(VL_DNS_SCRIPTS ${CMAKE_CURRENT_LIST_DIR})

if(NOT TARGET Python3::Interpreter)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
endif()

find_program(VL_NSD nsd PATHS /usr/sbin /usr/local/sbin)
find_program(VL_UNBOUND unbound PATHS /usr/sbin /usr/local/sbin)
if(NOT VL_NSD OR NOT VL_UNBOUND)
  message(STATUS "DNS tests: nsd and/or unbound not found; the dns/ tests "
                 "will fail until the Debian packages nsd and unbound are "
                 "installed")
endif()

add_test(NAME dns/start
  COMMAND ${VL_DNS_SCRIPTS}/start-servers.sh ${VL_DNS_DIR}
          --bulk ${MAILVET_DNS_BULK})
set_tests_properties(dns/start PROPERTIES
  FIXTURES_SETUP dns
  LABELS dns
  TIMEOUT 120)

add_test(NAME dns/stop
  COMMAND ${VL_DNS_SCRIPTS}/stop-servers.sh ${VL_DNS_DIR})
set_tests_properties(dns/stop PROPERTIES
  FIXTURES_CLEANUP dns
  LABELS dns
  TIMEOUT 60)

function(vl_dns_test name)
  if(ARGC LESS 2)
    message(FATAL_ERROR "vl_dns_test(${name}): no command given")
  endif()
  add_test(NAME ${name} COMMAND ${ARGN})
  set_tests_properties(${name} PROPERTIES
    FIXTURES_REQUIRED dns
    LABELS dns
    ENVIRONMENT "MAILVET_DNS_ENV=${VL_DNS_ENV}")
endfunction()

vl_dns_test(dns/selftest
  Python3::Interpreter ${VL_DNS_SCRIPTS}/selftest.py)
set_tests_properties(dns/selftest PROPERTIES TIMEOUT 120)
