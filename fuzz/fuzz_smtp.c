/*
 * fuzz_smtp.c - libFuzzer harness for the SMTP reply reader.
 *
 * The first input byte sets a chunk size (1-256); the rest is what a
 * server sends, fed to vl__smtp_read() whole and then in chunks of that
 * size, as the network would split it.  Invariants: the reader never
 * reads outside its input (ASan), consumes what it is given and no more,
 * every reply it returns has a code in 200-599, a NUL-terminated text
 * without control characters within its bound, an enhanced code of the
 * reply's class, at most VL__SMTP_LINES_MAX lines, a reason from
 * vl__smtp_classify() in range; and both feedings give the same replies
 * (splitting a stream never changes what it says).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "smtp.h"

enum { MAX_REPLIES = 64 };

typedef struct seen {
    int n;
    int codes[MAX_REPLIES];
    char enhanced[MAX_REPLIES][VL__SMTP_ENHANCED_CAP];
    unsigned ehlo[MAX_REPLIES];
    int bad;
} seen;

static void check_reply(const vl__smtp_reply *r)
{
    size_t n = strnlen(r->text, sizeof r->text);

    CHECK(r->code >= 200 && r->code <= 599);
    CHECK(n < sizeof r->text);
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)r->text[i] >= 0x20 && r->text[i] != 0x7F);
    CHECK(strnlen(r->enhanced, sizeof r->enhanced) < sizeof r->enhanced);
    if (r->enhanced[0] != '\0')
        CHECK(r->enhanced[0] == '0' + r->code / 100 && r->enhanced[1] == '.');
    CHECK(r->n_lines >= 1 && r->n_lines <= VL__SMTP_LINES_MAX);
    vl_reason why = vl__smtp_classify(r);
    CHECK((unsigned)why <= VL_R__COUNT);
    if (why != VL_R__COUNT && vl_reason_verdict(why) == VL_UNDELIVERABLE)
        CHECK(r->code >= 500); /* only a 5xx can say "no such mailbox" */
}

static void feed(const uint8_t *data, size_t size, size_t chunk, seen *s)
{
    vl__smtp_reader r;
    size_t off = 0;

    memset(&r, 0, sizeof r);
    vl__smtp_reader_init(&r);
    memset(s, 0, sizeof *s);
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        const char *p = (const char *)data + off;
        off += n;
        while (n > 0) {
            size_t used;
            vl__smtp_feed f = vl__smtp_read(&r, p, n, &used);
            CHECK(used <= n);
            if (f == VL__SMTP_BAD) {
                CHECK(r.error != NULL);
                s->bad = 1;
                return;
            }
            p += used;
            n -= used;
            if (f == VL__SMTP_MORE) {
                CHECK(n == 0);
                break;
            }
            CHECK(used > 0);
            check_reply(&r.reply);
            if (s->n < MAX_REPLIES) {
                s->codes[s->n] = r.reply.code;
                memcpy(s->enhanced[s->n], r.reply.enhanced,
                       VL__SMTP_ENHANCED_CAP);
                s->ehlo[s->n] = r.reply.ehlo;
            }
            s->n++;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static seen whole, parts;

    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] + 1;
    feed(data + 1, size - 1, size, &whole);
    feed(data + 1, size - 1, chunk, &parts);
    CHECK(whole.bad == parts.bad && whole.n == parts.n);
    for (int i = 0; i < whole.n && i < MAX_REPLIES; i++) {
        CHECK(whole.codes[i] == parts.codes[i]);
        CHECK(whole.ehlo[i] == parts.ehlo[i]);
        CHECK(strcmp(whole.enhanced[i], parts.enhanced[i]) == 0);
    }
    return 0;
}
