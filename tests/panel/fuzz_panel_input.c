/*
 * fuzz_panel_input.c - libFuzzer target for the panel's two parsers of
 * untrusted request bodies: the strict JSON parser (panel_json.h, with the
 * default and with tight limits) and the form decoder (panel_form.h).
 * Nothing a client sends may crash them, leak, or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "panel_form.h"
#include "panel_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct pjson *v, unsigned depth)
{
    unsigned long n;
    if (v == NULL || depth > 64)
        return;
    (void)pjson_uint(v, 100000, &n);
    for (size_t i = 0; i < v->n; i++) {
        if (v->type == PJ_OBJECT)
            (void)pjson_get(v, v->key[i]);
        walk(&v->item[i], depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct pjson_limits tight = {256, 3, 16, 32};
    const char *text = (const char *)data;
    const char *err;
    size_t at;

    struct pjson *v = pjson_parse(text, size, NULL, &err, &at);
    if (v == NULL && (err == NULL || at > size))
        __builtin_trap(); /* a refusal always says why and where */
    walk(v, 0);
    pjson_free(v);
    v = pjson_parse(text, size, &tight, &err, &at);
    walk(v, 0);
    pjson_free(v);

    struct pkv_list l = {0};
    if (panel_form_parse(&l, text, size, 64) == 0) {
        for (size_t i = 0; i < l.n; i++) {
            if (!panel_text_ok(l.v[i].value) || pkv_get(&l, l.v[i].name) == NULL)
                __builtin_trap();
        }
    }
    pkv_clear(&l);
    return 0;
}
