// A small wrapper around libpng (Debian's libpng-dev) for EvidentIO's PNG reader and writer:
// libpng reports errors by longjmp, which Swift cannot catch, so the setjmp lives here.
#ifndef EVIDENT_CPNG_H
#define EVIDENT_CPNG_H

#include <stddef.h>
#include <stdint.h>

/// A decoded image: `height` rows of `width` pixels of `channels` samples (1 grey, 2 grey +
/// alpha, 3 RGB, 4 RGBA), each sample in [0, 2^bit_depth - 1], stored as uint16 row-major.
typedef struct {
    uint32_t width;
    uint32_t height;
    uint32_t channels;
    uint32_t bit_depth;  // 8 or 16 (palette and low-bit grey images are expanded to 8)
    uint16_t *samples;   // malloc'd, free with evident_png_free
} evident_png_image;

/// Decodes a PNG held in memory. Returns 0 on success; otherwise writes a message of at most
/// `message_size` bytes to `message` and returns nonzero. No gamma or colour conversion is
/// applied: the samples are the file's. Images of more than `max_samples` samples are refused
/// before their pixels are allocated.
int evident_png_decode(const uint8_t *data, size_t size, size_t max_samples, evident_png_image *image,
                       char *message, size_t message_size);

void evident_png_free(evident_png_image *image);

/// Encodes 8-bit RGB pixels (`height` rows of `width` × 3 bytes) as a PNG in memory. Returns 0
/// on success and sets `*out` (malloc'd, free with evident_png_free_buffer) and `*out_size`.
int evident_png_encode_rgb8(const uint8_t *pixels, uint32_t width, uint32_t height, uint8_t **out, size_t *out_size,
                            char *message, size_t message_size);

void evident_png_free_buffer(uint8_t *buffer);

#endif
