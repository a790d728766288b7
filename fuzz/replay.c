/*
 * replay.c - run a libFuzzer harness over its seed corpus without
 * libFuzzer, so the ordinary gcc build (and its ASan+UBSan pass) checks
 * every seed and every fixed crash input on each ctest run.
 *
 *   replay_syntax DIR_OR_FILE...
 *
 * Each argument is a corpus directory (every entry not starting with
 * '.' is read, in name order) or a single input file.  Each input goes
 * once through LLVMFuzzerTestOneInput(); a broken invariant traps there.
 * An empty or unreadable directory is an error, so a corpus that went
 * missing cannot pass silently.  When an input kills the process (a
 * trap, an abort, a sanitizer report) its path goes to stderr last.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* In the sanitizer runtimes when linked in; NULL otherwise. */
extern void __sanitizer_set_death_callback(void (*cb)(void))
    __attribute__((weak));

/* The input being run, for the crash note. */
static const char *volatile current;

static void say_current(void)
{
    static const char pre[] = "replay: crashed on input ";

    if (current == NULL)
        return;
    if (write(2, pre, sizeof pre - 1) < 0 ||
        write(2, current, strlen(current)) < 0 || write(2, "\n", 1) < 0)
        return; /* stderr is gone: nothing else to tell */
}

static void on_fatal(int sig)
{
    say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_crashes(void)
{
    static const int sigs[] = {SIGILL, SIGTRAP, SIGABRT, SIGFPE, SIGBUS};

    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        signal(sigs[i], on_fatal);
    if (__sanitizer_set_death_callback != NULL)
        __sanitizer_set_death_callback(say_current);
}

/* Read all of 'path' into a new buffer (never NULL, even when empty). */
static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);

    if (f == NULL || buf == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        free(buf);
        return -1;
    }
    for (;;) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *bigger = realloc(buf, cap *= 2);
        if (bigger == NULL) {
            fprintf(stderr, "replay: %s: out of memory\n", path);
            fclose(f);
            free(buf);
            return -1;
        }
        buf = bigger;
    }
    if (ferror(f)) {
        fprintf(stderr, "replay: %s: read error\n", path);
        fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);
    *out = buf;
    *len = n;
    return 0;
}

static int run_file(const char *path)
{
    uint8_t *data;
    size_t len;

    if (read_file(path, &data, &len) != 0)
        return -1;
    current = path;
    LLVMFuzzerTestOneInput(data, len);
    current = NULL;
    free(data);
    return 0;
}

static int visible(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* Run every input in 'dir'; returns how many ran, or -1. */
static long run_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, visible, alphasort);
    long ran = 0;
    int bad = 0;

    if (n < 0) {
        fprintf(stderr, "replay: %s: cannot read directory: %s\n", dir,
                strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        size_t need = strlen(dir) + 1 + strlen(names[i]->d_name) + 1;
        char *path = malloc(need);
        struct stat st;
        if (path == NULL) {
            bad = 1;
        } else {
            snprintf(path, need, "%s/%s", dir, names[i]->d_name);
            if (stat(path, &st) != 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                bad = 1;
            } else if (S_ISREG(st.st_mode)) {
                if (run_file(path) == 0)
                    ran++;
                else
                    bad = 1;
            }
        }
        free(path);
        free(names[i]);
    }
    free(names);
    if (bad)
        return -1;
    if (ran == 0) {
        fprintf(stderr, "replay: %s: no inputs in the directory\n", dir);
        return -1;
    }
    return ran;
}

int main(int argc, char **argv)
{
    long total = 0;
    int status = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    catch_crashes();
    for (int i = 1; i < argc; i++) {
        struct stat st;
        long ran;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            status = 1;
            continue;
        }
        if (S_ISDIR(st.st_mode))
            ran = run_dir(argv[i]);
        else
            ran = run_file(argv[i]) == 0 ? 1 : -1;
        if (ran < 0) {
            status = 1;
            continue;
        }
        printf("replay: %s: %ld inputs\n", argv[i], ran);
        total += ran;
    }
    printf("replay: %ld inputs, %s\n", total, status ? "FAILED" : "ok");
    return status;
}
