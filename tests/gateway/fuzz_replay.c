/*
 * fuzz_replay.c - runs a libFuzzer target's LLVMFuzzerTestOneInput over
 * every file of the seed directories given as arguments, so that every
 * build (without libFuzzer) checks the committed corpora. Exits 0 when
 * every input ran; prints "N passed, 0 failed".
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            FILE *f = fopen(path, "rb");
            if (f == NULL)
                continue;
            uint8_t *buf = malloc(1 << 20);
            size_t n = fread(buf, 1, 1 << 20, f);
            fclose(f);
            /* an exact-size copy so that ASan sees overreads */
            uint8_t *exact = malloc(n ? n : 1);
            memcpy(exact, buf, n);
            free(buf);
            LLVMFuzzerTestOneInput(exact, n);
            free(exact);
            ran++;
        }
        closedir(d);
    }
    if (ran == 0) {
        fprintf(stderr, "no seed ran\n");
        return 1;
    }
    printf("%u passed, 0 failed\n", ran);
    return 0;
}
