/*
 * test_smtp.c - the SMTP probe's pure parts: reading replies (multi-line,
 * enhanced codes, EHLO keywords, pipelined replies in one read, replies
 * split across reads, hostile bytes) and what a reply to RCPT means.
 * No network here: tests/smtp/ has the servers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

/* Feed 's' in pieces of 'chunk' bytes; the replies go into 'out'. */
static int read_all(const char *s, size_t chunk, vl__smtp_reply *out, int max,
                    const char **error)
{
    vl__smtp_reader r;
    size_t len = strlen(s), off = 0;
    int n = 0;

    memset(&r, 0, sizeof r);
    vl__smtp_reader_init(&r);
    *error = NULL;
    while (off < len) {
        size_t take = len - off < chunk ? len - off : chunk;
        const char *p = s + off;
        off += take;
        while (take > 0) {
            size_t used;
            vl__smtp_feed f = vl__smtp_read(&r, p, take, &used);
            if (f == VL__SMTP_BAD) {
                *error = r.error;
                return n;
            }
            p += used;
            take -= used;
            if (f == VL__SMTP_REPLY && n < max)
                out[n++] = r.reply;
            if (f == VL__SMTP_MORE)
                break;
        }
    }
    return n;
}

static void banner_and_enhanced(void **state)
{
    vl__smtp_reply rep[4];
    const char *err;

    (void)state;
    assert_int_equal(
        read_all("220 mx.example.com ESMTP\r\n", 1000, rep, 4, &err), 1);
    assert_null(err);
    assert_int_equal(rep[0].code, 220);
    assert_string_equal(rep[0].text, "mx.example.com ESMTP");
    assert_string_equal(rep[0].enhanced, "");

    assert_int_equal(
        read_all("550 5.1.1 <a@b>: User unknown\r\n", 1000, rep, 4, &err), 1);
    assert_string_equal(rep[0].enhanced, "5.1.1");
    assert_string_equal(rep[0].text, "<a@b>: User unknown");
    /* a code of another class is text, not an enhanced code */
    assert_int_equal(read_all("550 2.1.1 odd\r\n", 1000, rep, 4, &err), 1);
    assert_string_equal(rep[0].enhanced, "");
    /* a bare code, and a bare LF */
    assert_int_equal(read_all("250\n", 1000, rep, 4, &err), 1);
    assert_int_equal(rep[0].code, 250);
    assert_string_equal(rep[0].text, "");
}

static void multiline_ehlo(void **state)
{
    static const char ehlo[] = "250-mx.example.com\r\n"
                               "250-PIPELINING\r\n"
                               "250-SIZE 10240000\r\n"
                               "250-starttls\r\n"
                               "250-8BITMIME\r\n"
                               "250 SMTPUTF8\r\n";
    vl__smtp_reply rep[2];
    const char *err;

    (void)state;
    for (size_t chunk = 1; chunk <= sizeof ehlo; chunk += 7) {
        assert_int_equal(read_all(ehlo, chunk, rep, 2, &err), 1);
        assert_null(err);
        assert_int_equal(rep[0].n_lines, 6);
        assert_int_equal(rep[0].ehlo, VL__EHLO_PIPELINING | VL__EHLO_STARTTLS |
                                          VL__EHLO_SMTPUTF8);
    }
    /* the keyword must be the whole first word */
    assert_int_equal(read_all("250-x\r\n250 SMTPUTF8X\r\n", 100, rep, 2, &err),
                     1);
    assert_int_equal(rep[0].ehlo, 0);
    /* the greeting line itself is not a keyword */
    assert_int_equal(read_all("250 PIPELINING\r\n", 100, rep, 2, &err), 1);
    assert_int_equal(rep[0].ehlo, 0);
}

static void pipelined(void **state)
{
    vl__smtp_reply rep[4];
    const char *err;

    (void)state;
    assert_int_equal(
        read_all("250 2.1.0 Ok\r\n550 5.1.1 no\r\n250 2.1.5 Ok\r\n", 1000, rep,
                 4, &err),
        3);
    assert_int_equal(rep[0].code, 250);
    assert_int_equal(rep[1].code, 550);
    assert_string_equal(rep[1].enhanced, "5.1.1");
    assert_string_equal(rep[2].enhanced, "2.1.5");
    /* multi-line texts are joined */
    assert_int_equal(read_all("550-5.7.1 blocked\r\n550 5.7.1 see url\r\n", 3,
                              rep, 4, &err),
                     1);
    assert_string_equal(rep[0].text, "blocked see url");
}

static void hostile(void **state)
{
    vl__smtp_reply rep[2];
    const char *err;
    char *big = malloc(VL__SMTP_LINE_MAX + 16);
    char *many = malloc(200 * 10 + 16);

    (void)state;
    read_all("hello\r\n", 100, rep, 2, &err);
    assert_non_null(err);
    read_all("600 no\r\n", 100, rep, 2, &err);
    assert_non_null(err);
    read_all("250x\r\n", 100, rep, 2, &err);
    assert_non_null(err);
    read_all("250-a\r\n550 b\r\n", 100, rep, 2, &err);
    assert_non_null(err); /* codes differ within one reply */
    read_all("22", 100, rep, 2, &err);
    assert_null(err); /* incomplete, not wrong */

    memcpy(big, "220 ", 4);
    memset(big + 4, 'x', VL__SMTP_LINE_MAX + 8);
    big[VL__SMTP_LINE_MAX + 12] = '\0';
    read_all(big, 4096, rep, 2, &err);
    assert_non_null(err);

    size_t n = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)sprintf(many + n, "250-x%02d\r\n", i % 100);
    read_all(many, 4096, rep, 2, &err);
    assert_non_null(err); /* more lines than VL__SMTP_LINES_MAX */

    /* control characters in the text are replaced, not kept */
    assert_int_equal(read_all("250 a\x01\x1b[31m\r\n", 100, rep, 2, &err), 1);
    assert_string_equal(rep[0].text, "a??[31m");
    free(big);
    free(many);
}

static vl_reason why(int code, const char *enh, const char *text)
{
    vl__smtp_reply r;

    memset(&r, 0, sizeof r);
    r.code = code;
    strcpy(r.enhanced, enh);
    strcpy(r.text, text);
    return vl__smtp_classify(&r);
}

static void classify(void **state)
{
    (void)state;
    assert_int_equal(why(250, "2.1.5", "Ok"), VL_R__COUNT);
    assert_int_equal(why(251, "", "will forward"), VL_R__COUNT);
    assert_int_equal(why(550, "5.1.1", "User unknown"),
                     VL_R_SMTP_MAILBOX_UNKNOWN);
    assert_int_equal(why(553, "5.1.3", "bad address"),
                     VL_R_SMTP_MAILBOX_UNKNOWN);
    assert_int_equal(why(550, "5.2.1", "account disabled"),
                     VL_R_SMTP_MAILBOX_UNKNOWN);
    assert_int_equal(why(550, "", "No such user here"),
                     VL_R_SMTP_MAILBOX_UNKNOWN);
    /* a 550 that speaks of the sender, not of the mailbox */
    assert_int_equal(why(550, "", "Blocked by Spamhaus"), VL_R_SMTP_BLOCKED);
    assert_int_equal(why(554, "5.7.1", "Relay access denied"),
                     VL_R_SMTP_BLOCKED);
    assert_int_equal(why(550, "5.7.1", "User unknown"), VL_R_SMTP_BLOCKED);
    assert_int_equal(why(552, "5.2.2", "Mailbox full"), VL_R_MAILBOX_FULL);
    assert_int_equal(why(452, "4.2.2", "over quota"), VL_R_MAILBOX_FULL);
    assert_int_equal(why(452, "", "mailbox full"), VL_R_MAILBOX_FULL);
    assert_int_equal(why(450, "4.2.0", "Greylisted"), VL_R_SMTP_GREYLISTED);
    assert_int_equal(why(451, "4.7.1", "try later"), VL_R_SMTP_GREYLISTED);
    assert_int_equal(why(421, "4.7.0", "closing"), VL_R_SMTP_UNAVAILABLE);
    assert_int_equal(why(501, "5.5.4", "syntax"), VL_R_SMTP_REJECTED);
    /* never undeliverable for a temporary reply, whatever it says */
    assert_int_not_equal(vl_reason_verdict(why(450, "5.1.1", "User unknown")),
                         VL_UNDELIVERABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(banner_and_enhanced),
        cmocka_unit_test(multiline_ehlo),
        cmocka_unit_test(pipelined),
        cmocka_unit_test(hostile),
        cmocka_unit_test(classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
