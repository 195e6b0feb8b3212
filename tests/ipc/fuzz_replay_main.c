/*
 * fuzz_replay_main.c - runs LLVMFuzzerTestOneInput() over every file of the
 * directories given on the command line, so the IPC codec's seed corpus is
 * exercised in builds without libFuzzer. Exit 0 when at least one input ran
 * (a failing input aborts).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *nb = realloc(buf, cap * 2);
        if (nb == NULL)
            free(buf);
        buf = nb;
        cap *= 2;
    }
    if (buf != NULL && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    unsigned ran = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (d == NULL) {
            perror(argv[i]);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            size_t len = 0;
            uint8_t *buf = read_all(path, &len);
            if (buf == NULL) {
                perror(path);
                closedir(d);
                return 1;
            }
            LLVMFuzzerTestOneInput(buf, len);
            free(buf);
            ran++;
        }
        closedir(d);
    }
    printf("%u inputs replayed\n", ran);
    return ran > 0 ? 0 : 1;
}
