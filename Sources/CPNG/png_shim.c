#include "CPNG.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
} reader_state;

typedef struct {
    jmp_buf jump;
    char *message;
    size_t message_size;
} error_state;

static void on_error(png_structp png, png_const_charp text) {
    error_state *e = (error_state *)png_get_error_ptr(png);
    snprintf(e->message, e->message_size, "%s", text);
    longjmp(e->jump, 1);
}

static void on_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

static void read_bytes(png_structp png, png_bytep out, png_size_t count) {
    reader_state *r = (reader_state *)png_get_io_ptr(png);
    if (count > r->size - r->offset) png_error(png, "the file ends inside the PNG data (truncated)");
    memcpy(out, r->data + r->offset, count);
    r->offset += count;
}

int evident_png_decode(const uint8_t *data, size_t size, size_t max_samples, evident_png_image *image,
                       char *message, size_t message_size) {
    memset(image, 0, sizeof *image);
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(message, message_size, "not a PNG file (the 8-byte signature is missing)");
        return 1;
    }
    error_state errors;
    errors.message = message;
    errors.message_size = message_size;
    reader_state reader = {data, size, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &errors, on_error, on_warning);
    if (!png) {
        snprintf(message, message_size, "libpng could not start");
        return 1;
    }
    png_infop info = png_create_info_struct(png);
    // Changed after setjmp and read after a longjmp, so volatile.
    png_bytep *volatile rows = NULL;
    uint16_t *volatile samples = NULL;
    uint8_t *volatile raw = NULL;
    if (!info || setjmp(errors.jump)) {
        free(rows);
        free(samples);
        free(raw);
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        if (!info) snprintf(message, message_size, "libpng could not start");
        return 1;
    }
    png_set_read_fn(png, &reader, read_bytes);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_swap(png);  // little-endian uint16 samples
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    int out_depth = png_get_bit_depth(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if (width == 0 || height == 0) png_error(png, "the image has no pixels");
    if ((double)width * height * channels > (double)max_samples) {
        snprintf(message, message_size, "the image has %lu x %lu pixels of %d samples, over the limit of %zu samples",
                 (unsigned long)width, (unsigned long)height, channels, max_samples);
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    raw = malloc(row_bytes * height);
    rows = malloc(sizeof(png_bytep) * height);
    samples = malloc(sizeof(uint16_t) * (size_t)width * height * channels);
    if (!raw || !rows || !samples) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = raw + y * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    size_t n = (size_t)width * height * channels;
    if (out_depth == 16) {
        memcpy(samples, raw, n * sizeof(uint16_t));
    } else {
        for (size_t i = 0; i < n; i++) samples[i] = raw[i];
    }
    free(raw);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    image->width = width;
    image->height = height;
    image->channels = (uint32_t)channels;
    image->bit_depth = (uint32_t)out_depth;
    image->samples = samples;
    return 0;
}

void evident_png_free(evident_png_image *image) {
    free(image->samples);
    image->samples = NULL;
}

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    int failed;
} writer_state;

static void write_bytes(png_structp png, png_bytep bytes, png_size_t count) {
    writer_state *w = (writer_state *)png_get_io_ptr(png);
    if (w->size + count > w->capacity) {
        size_t capacity = w->capacity ? w->capacity : 4096;
        while (capacity < w->size + count) capacity *= 2;
        uint8_t *grown = realloc(w->data, capacity);
        if (!grown) png_error(png, "out of memory");
        w->data = grown;
        w->capacity = capacity;
    }
    memcpy(w->data + w->size, bytes, count);
    w->size += count;
}

static void flush_bytes(png_structp png) { (void)png; }

int evident_png_encode_rgb8(const uint8_t *pixels, uint32_t width, uint32_t height, uint8_t **out, size_t *out_size,
                            char *message, size_t message_size) {
    *out = NULL;
    *out_size = 0;
    error_state errors;
    errors.message = message;
    errors.message_size = message_size;
    writer_state writer = {NULL, 0, 0, 0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &errors, on_error, on_warning);
    if (!png) {
        snprintf(message, message_size, "libpng could not start");
        return 1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(errors.jump)) {
        free(writer.data);
        png_destroy_write_struct(&png, info ? &info : NULL);
        if (!info) snprintf(message, message_size, "libpng could not start");
        return 1;
    }
    png_set_write_fn(png, &writer, write_bytes, flush_bytes);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = writer.data;
    *out_size = writer.size;
    return 0;
}

void evident_png_free_buffer(uint8_t *buffer) { free(buffer); }
