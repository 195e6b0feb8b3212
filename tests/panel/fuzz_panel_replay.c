/*
 * fuzz_panel_replay.c - runs LLVMFuzzerTestOneInput() of fuzz_panel_input.c
 * over every file of the seed corpus, so the corpus is exercised in every
 * build, not only with libFuzzer. Exit 0 when at least one input ran.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    char *buf = malloc(1024 * 1024);
    size_t n = buf != NULL ? fread(buf, 1, 1024 * 1024, f) : 0;
    fclose(f);
    if (buf == NULL)
        return -1;
    LLVMFuzzerTestOneInput((const uint8_t *)buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned ran = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (d == NULL) {
            fprintf(stderr, "cannot open %s\n", argv[i]);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char path[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            if (run_file(path) < 0) {
                fprintf(stderr, "cannot read %s\n", path);
                closedir(d);
                return 1;
            }
            ran++;
        }
        closedir(d);
    }
    printf("%u inputs replayed\n", ran);
    return ran > 0 ? 0 : 1;
}
