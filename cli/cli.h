/*
 * cli.h - the mailvet program's commands.  Each takes the arguments
 * after its name (argv[0] is the command name) and returns the exit
 * status.  The commands use only the public libvalidate API.
 */
#ifndef MV_CLI_H
#define MV_CLI_H

#include <stdio.h>

/* Exit statuses shared by all commands (README.md "Exit status"). */
enum {
    MV_EXIT_OK = 0,            /* every address deliverable or risky */
    MV_EXIT_UNDELIVERABLE = 1, /* at least one undeliverable */
    MV_EXIT_USAGE = 2,         /* usage or system error */
    MV_EXIT_UNKNOWN = 3        /* none undeliverable, some unknown */
};

int mv_cmd_check(int argc, char **argv);
void mv_check_usage(FILE *out);
int mv_cmd_clean(int argc, char **argv);
void mv_clean_usage(FILE *out);

#endif
