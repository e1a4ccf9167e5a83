/* Classifies a raw 224x224 RGB file (pplcnet_input_len() bytes, HWC) and prints the top-5:
 *
 *   classify image.u8          ->  "top <rank> <class id> <score> <label>" lines, rank 1 first
 *   classify --check-errors    ->  "<case> <status>" lines for deliberately bad calls
 *
 * Build: cc -std=c11 -I capi/include capi/examples/classify.c target/release/libpplcnet_capi.a \
 *           -lpthread -ldl -lm -o classify
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pplcnet.h"

static void *new_workspace(void) {
    size_t align = pplcnet_workspace_align();
    size_t size = (pplcnet_workspace_size() + align - 1) / align * align; /* aligned_alloc wants a multiple */
    void *ws = aligned_alloc(align, size);
    if (ws == NULL || pplcnet_workspace_init(ws, size) != PPLCNET_OK) {
        fprintf(stderr, "cannot allocate a %zu-byte workspace\n", size);
        exit(2);
    }
    return ws;
}

static int check_errors(void) {
    size_t n = pplcnet_input_len(), k = pplcnet_num_classes(), wsz = pplcnet_workspace_size();
    uint8_t *img = calloc(n, 1);
    float *out = calloc(k, sizeof(float));
    void *ws = new_workspace();
    if (img == NULL || out == NULL) return 2;
    printf("null_rgb %d\n", pplcnet_classify(NULL, n, ws, wsz, out, k));
    printf("null_workspace %d\n", pplcnet_classify(img, n, NULL, wsz, out, k));
    printf("null_out %d\n", pplcnet_classify(img, n, ws, wsz, NULL, k));
    printf("short_rgb %d\n", pplcnet_classify(img, n - 1, ws, wsz, out, k));
    printf("short_workspace %d\n", pplcnet_classify(img, n, ws, wsz - 1, out, k));
    /* A buffer with room for a workspace starting 4 bytes past an aligned address. */
    char *big = aligned_alloc(pplcnet_workspace_align(), wsz + pplcnet_workspace_align());
    if (big == NULL) return 2;
    printf("misaligned_workspace %d\n", pplcnet_classify(img, n, big + 4, wsz, out, k));
    free(big);
    printf("short_out %d\n", pplcnet_classify(img, n, ws, wsz, out, k - 1));
    printf("label_out_of_range %s\n", pplcnet_label(k) == NULL ? "null" : "not-null");
    printf("ok %d\n", pplcnet_classify(img, n, ws, wsz, out, k));
    free(ws);
    free(out);
    free(img);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <image.u8> | --check-errors\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "--check-errors") == 0) return check_errors();

    size_t n = pplcnet_input_len(), k = pplcnet_num_classes();
    uint8_t *img = malloc(n);
    float *scores = malloc(k * sizeof(float));
    FILE *f = fopen(argv[1], "rb");
    if (img == NULL || scores == NULL || f == NULL) {
        perror(argv[1]);
        return 2;
    }
    size_t got = fread(img, 1, n, f);
    fclose(f);
    void *ws = new_workspace();
    int32_t status = pplcnet_classify(img, got, ws, pplcnet_workspace_size(), scores, k);
    if (status != PPLCNET_OK) {
        fprintf(stderr, "%s: %s (%d)\n", argv[1], pplcnet_strerror(status), status);
        return 1;
    }
    /* Top-5, best first, ties to the lower class id (like pplcnet::top_k). */
    size_t best[5];
    for (int r = 0; r < 5; r++) {
        size_t pick = k;
        for (size_t i = 0; i < k; i++) {
            int taken = 0;
            for (int q = 0; q < r; q++) taken |= best[q] == i;
            if (!taken && (pick == k || scores[i] > scores[pick])) pick = i;
        }
        best[r] = pick;
        printf("top %d %zu %.9g %s\n", r + 1, pick, (double)scores[pick], pplcnet_label(pick));
    }
    free(ws);
    free(scores);
    free(img);
    return 0;
}
