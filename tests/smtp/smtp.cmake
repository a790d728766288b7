# SMTP integration-test servers as a ctest fixture.  Include from
# tests/CMakeLists.txt after dns/dns.cmake:
#
#   include(${CMAKE_CURRENT_SOURCE_DIR}/smtp/smtp.cmake)
#
# It defines
#   smtp/start     FIXTURES_SETUP smtp: tests/smtp/start-servers.sh DIR
#   smtp/stop      FIXTURES_CLEANUP smtp: tests/smtp/stop-servers.sh DIR
#   smtp/selftest  checks the servers do what tests/smtp/README.md says
# with DIR = ${CMAKE_BINARY_DIR}/smtp-servers, and the function
#
#   vl_smtp_test(<test name> <command> [args...])
#
# which adds a test that needs the SMTP servers and the DNS servers (the
# MX records of *.smtp.mvtest are in the DNS fixture's zone):
# FIXTURES_REQUIRED "dns;smtp", LABELS smtp, and in its environment
# MAILVET_DNS_ENV=<dns-servers>/env and MAILVET_SMTP_ENV=DIR/env (the
# files of KEY=VALUE lines with the ports, addresses, logs and pidfiles).
# ctest starts both fixtures before and stops them after any selection of
# such tests (`ctest -L smtp`, `ctest -R smtp/`), and not at all when
# none is selected.
#
# Needs root (Postfix's master starts as root), the Debian packages
# postfix, postgrey and openssl (scripts/setup), and python3.

if(NOT DEFINED VL_DNS_ENV)
  message(FATAL_ERROR "smtp.cmake: include dns/dns.cmake first")
endif()

set(VL_SMTP_DIR ${CMAKE_BINARY_DIR}/smtp-servers)
set(VL_SMTP_ENV ${VL_SMTP_DIR}/env)
set(VL_SMTP_SCRIPTS ${CMAKE_CURRENT_LIST_DIR})

find_program(VL_POSTFIX postfix PATHS /usr/sbin /usr/local/sbin)
find_program(VL_POSTGREY postgrey PATHS /usr/sbin /usr/local/sbin)
if(NOT VL_POSTFIX OR NOT VL_POSTGREY)
  message(STATUS "SMTP tests: postfix and/or postgrey not found; the smtp/ "
                 "tests will fail until the Debian packages postfix and "
                 "postgrey are installed (scripts/setup)")
endif()

add_test(NAME smtp/start
  COMMAND ${VL_SMTP_SCRIPTS}/start-servers.sh ${VL_SMTP_DIR})
set_tests_properties(smtp/start PROPERTIES
  FIXTURES_SETUP smtp
  LABELS smtp
  TIMEOUT 120)

add_test(NAME smtp/stop
  COMMAND ${VL_SMTP_SCRIPTS}/stop-servers.sh ${VL_SMTP_DIR})
set_tests_properties(smtp/stop PROPERTIES
  FIXTURES_CLEANUP smtp
  LABELS smtp
  TIMEOUT 60)

function(vl_smtp_test name)
  if(ARGC LESS 2)
    message(FATAL_ERROR "vl_smtp_test(${name}): no command given")
  endif()
  add_test(NAME ${name} COMMAND ${ARGN})
  set_tests_properties(${name} PROPERTIES
    FIXTURES_REQUIRED "dns;smtp"
    LABELS smtp
    ENVIRONMENT "MAILVET_DNS_ENV=${VL_DNS_ENV};MAILVET_SMTP_ENV=${VL_SMTP_ENV}")
endfunction()

vl_smtp_test(smtp/selftest
  Python3::Interpreter ${VL_SMTP_SCRIPTS}/selftest.py)
set_tests_properties(smtp/selftest PROPERTIES TIMEOUT 120)

# noegress.so: an LD_PRELOAD guard for tests that run the prober, so that
# nothing it tries can send a packet off the machine (see noegress.c).
# Built without the sanitizers: it is preloaded before their runtime.
add_library(vl_noegress MODULE ${VL_SMTP_SCRIPTS}/noegress.c)
set_target_properties(vl_noegress PROPERTIES PREFIX "" OUTPUT_NAME noegress)
if(MAILVET_SANITIZE)
  target_compile_options(vl_noegress PRIVATE -fno-sanitize=all)
  target_link_options(vl_noegress PRIVATE -fno-sanitize=all)
endif()
