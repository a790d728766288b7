/*
 * fuzz_check.h - the harnesses' invariant check: a broken invariant says
 * which file, line and expression, then traps, so libFuzzer keeps the
 * input as a crash.
 */
#ifndef VL_FUZZ_CHECK_H
#define VL_FUZZ_CHECK_H

#include <stdio.h>

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,        \
                    __LINE__, #cond);                                         \
            __builtin_trap();                                                 \
        }                                                                     \
    } while (0)

#endif
