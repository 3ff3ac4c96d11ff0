/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay.c - the main of a harness built without libFuzzer: run LLVMFuzzerTestOneInput once
 * on every file named, or on every file of every directory named, so that the committed
 * corpus (fuzz/corpus/) is a regression test of the normal build (gcc, CTest).
 *
 * Usage: fuzz_<name>_replay PATH...  Exit 0 when every input ran, 1 if one could not be read,
 * 2 if no input was found. A crash or a failed invariant aborts, as under libFuzzer.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_input.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;

    if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto fail;
    buf = malloc((size_t)len + 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
        goto fail;
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    free(buf);
    return 0;
fail:
    fprintf(stderr, "replay: cannot read %s\n", path);
    if (f)
        fclose(f);
    free(buf);
    return -1;
}

/* Every regular file of dir, in name order (a failure is then easy to find again). */
static int run_dir(const char *dir, int *count)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort), err = 0;

    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s\n", dir);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            err |= run_file(path);
            (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return err;
}

int main(int argc, char **argv)
{
    int count = 0, err = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            err |= run_dir(argv[i], &count);
        } else {
            err |= run_file(argv[i]);
            count++;
        }
    }
    if (count == 0) {
        fprintf(stderr, "replay: no input given or found\n");
        return 2;
    }
    printf("replay: %d input(s) ran\n", count);
    return err ? 1 : 0;
}
