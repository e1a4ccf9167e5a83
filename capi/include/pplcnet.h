/* pplcnet: PP-LCNetV2 image classifier compiled to native code (C interface).
 *
 * Link with libpplcnet_capi.a (plus -lpthread -ldl -lm on Linux) or libpplcnet_capi.so, both built by
 * `cargo build --release -p pplcnet-capi` into target/release/. Hand-written: keep in sync with
 * capi/src/lib.rs (capi/tests/c_example.rs compiles capi/examples/classify.c against it).
 *
 * Usage: allocate one workspace per thread (pplcnet_workspace_size() bytes aligned to
 * pplcnet_workspace_align(), e.g. with aligned_alloc), zero it once with pplcnet_workspace_init, then
 * call pplcnet_classify as often as needed. Nothing allocates; NULL pointers and wrong lengths are
 * returned as error codes. A non-NULL pointer must point to at least as many bytes as its length
 * argument says; a workspace must not be used by two threads at once.
 */
#ifndef PPLCNET_H
#define PPLCNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PPLCNET_OK 0
#define PPLCNET_ERR_NULL (-1)            /* a required pointer is NULL */
#define PPLCNET_ERR_INPUT_LEN (-2)       /* len != pplcnet_input_len() */
#define PPLCNET_ERR_WORKSPACE_LEN (-3)   /* workspace_len < pplcnet_workspace_size() */
#define PPLCNET_ERR_WORKSPACE_ALIGN (-4) /* workspace not aligned to pplcnet_workspace_align() */
#define PPLCNET_ERR_OUTPUT_LEN (-5)      /* out_len < pplcnet_num_classes() */
#define PPLCNET_ERR_OVERLAP (-6)         /* the image bytes lie inside the workspace */

/* Bytes of one workspace. */
size_t pplcnet_workspace_size(void);
/* Required alignment of a workspace in bytes (a power of two). */
size_t pplcnet_workspace_align(void);
/* Number of floats pplcnet_classify writes. */
size_t pplcnet_num_classes(void);
/* Bytes of one input image: height * width * 3, RGB, row-major (HWC), already resized and cropped. */
size_t pplcnet_input_len(void);

/* Zeroes a workspace (do this once after allocating it). Returns PPLCNET_OK or an error code. */
int32_t pplcnet_workspace_init(void *workspace, size_t workspace_len);

/* Classifies one image: writes pplcnet_num_classes() scores (probabilities for a model ending in
 * softmax, else logits) to out, only on success. Returns PPLCNET_OK (0) or a negative PPLCNET_ERR_*. */
int32_t pplcnet_classify(const uint8_t *rgb, size_t len, void *workspace, size_t workspace_len, float *out,
                         size_t out_len);

/* Label of a class as a static NUL-terminated UTF-8 string (do not free), or NULL if class_id is out of range. */
const char *pplcnet_label(size_t class_id);

/* Static description of a status code (never NULL). */
const char *pplcnet_strerror(int32_t status);

#ifdef __cplusplus
}
#endif

#endif /* PPLCNET_H */
