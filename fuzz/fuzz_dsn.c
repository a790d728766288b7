/*
 * fuzz_dsn.c - libFuzzer harness for the bounce-message reader
 * (cli/dsn.c): GMime's MIME parsing of untrusted mail, the RFC 3464
 * field reader and the plain-text bounce heuristics.
 *
 * Bounce mail comes from anyone who can send us mail, so every input is
 * hostile.  Besides the sanitizers' checks the harness asserts what
 * dsn.h promises for every recipient handed out: a NUL-terminated
 * recipient shorter than MV_DSN_ADDR_MAX holding an '@', a status that
 * starts with 4 or 5, a diagnostic shorter than MV_DSN_DIAG_MAX with no
 * control characters.  The message is fed whole to mv_dsn_buffer(), and
 * its bytes also straight to mv_dsn_fields() and mv_dsn_text().
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dsn.h"

static void broken(const char *what)
{
    fprintf(stderr, "fuzz_dsn: broken promise: %s\n", what);
    __builtin_trap();
}

static int check_bounce(void *arg, const mv_bounce *b)
{
    size_t n = strlen(b->recipient);

    (void)arg;
    if (n == 0 || n >= MV_DSN_ADDR_MAX || strchr(b->recipient, '@') == NULL)
        broken("recipient");
    if (b->status[0] != '4' && b->status[0] != '5')
        broken("status class");
    n = strlen(b->diagnostic);
    if (n >= MV_DSN_DIAG_MAX)
        broken("diagnostic length");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)b->diagnostic[i] < 0x20 || b->diagnostic[i] == 0x7F)
            broken("control character in diagnostic");
    if (b->at < 0)
        broken("negative time");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;

    mv_dsn_buffer(s, size, check_bounce, NULL);
    mv_dsn_fields(s, size, 0, check_bounce, NULL);
    mv_dsn_text(s, size, 0, check_bounce, NULL);
    return 0;
}
