/* mailutils_parse.c - reference: GNU Mailutils' RFC 822 address parser
 * over one address per line on stdin; prints "valid N invalid M".
 * Build: cc -O2 mailutils_parse.c $(mailutils-config --link) */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <mailutils/address.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    char *line = NULL;
    size_t cap = 0, valid = 0, invalid = 0;
    ssize_t len;
    mu_address_t addr;

    while ((len = getline(&line, &cap, stdin)) >= 0) {
        line[strcspn(line, "\r\n")] = '\0';
        if (mu_address_create(&addr, line) == 0) {
            valid++;
            mu_address_destroy(&addr);
        } else
            invalid++;
    }
    printf("valid %zu invalid %zu\n", valid, invalid);
    return 0;
}
