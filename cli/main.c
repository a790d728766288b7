/*
 * main.c - mailvet: dispatch to a command.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "validate.h"

static void usage(FILE *out)
{
    fputs("usage: mailvet COMMAND [OPTIONS] [ARGS]\n"
          "\n"
          "Tell which e-mail addresses will bounce before you send.\n"
          "\n"
          "Commands:\n"
          "  check ADDRESS...   check addresses (or '-' for one per line "
          "on stdin)\n"
          "  clean IN.csv       split a CSV (or list) into rows to keep and "
          "to drop,\n"
          "                     with a report\n"
          "  store COMMAND      the invalid-address store: add, remove, "
          "show,\n"
          "                     list, stats, export, import, ingest-dsn\n"
          "  serve              answer checks over HTTP (JSON)\n"
          "\n"
          "Options:\n"
          "  -h, --help         show this help; 'mailvet COMMAND --help' "
          "for a command\n"
          "  -V, --version      show the version\n"
          "\n"
          "Exit status of check: 0 all deliverable or risky, 1 some\n"
          "undeliverable, 3 none undeliverable but some unknown, 2 usage or\n"
          "system error.  Of clean: 0 done, 2 usage or I/O error.\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return MV_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "help") == 0) {
        if (argc > 2 && strcmp(argv[2], "check") == 0)
            mv_check_usage(stdout);
        else if (argc > 2 && strcmp(argv[2], "store") == 0)
            mv_store_usage(stdout);
        else if (argc > 2 && strcmp(argv[2], "serve") == 0)
            mv_serve_usage(stdout);
        else if (argc > 2 && strcmp(argv[2], "clean") == 0)
            mv_clean_usage(stdout);
        else
            usage(stdout);
        return MV_EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("mailvet %s (libvalidate %s)\n", VL_VERSION_STRING,
               vl_version());
        return MV_EXIT_OK;
    }
    if (strcmp(cmd, "check") == 0)
        return mv_cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "store") == 0)
        return mv_cmd_store(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return mv_cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "clean") == 0)
        return mv_cmd_clean(argc - 1, argv + 1);
    fprintf(stderr, "mailvet: unknown command '%s'\n", cmd);
    usage(stderr);
    return MV_EXIT_USAGE;
}
