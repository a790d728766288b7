/* Check the addresses given as arguments; print "verdict suggestion". */
#include <stdio.h>
#include <string.h>
#include <validate.h>

int main(int argc, char **argv)
{
    vl_options opt;
    vl_ctx *ctx;
    vl_result *res;
    char err[256];

    VL_OPTIONS_INIT(&opt);
    opt.flags |= VL_OPT_OFFLINE; /* the test has no DNS to ask */
    if (vl_ctx_new(&opt, &ctx, err, sizeof err) != VL_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (vl_result_new(&res) != VL_OK)
        return 2;
    for (int i = 1; i < argc; i++) {
        vl_check(ctx, argv[i], strlen(argv[i]), res);
        const char *s = vl_result_suggestion(res);
        printf("%s %s\n", vl_verdict_name(vl_result_verdict(res)),
               s ? s : "-");
    }
    vl_result_free(res);
    vl_ctx_free(ctx);
    return 0;
}
