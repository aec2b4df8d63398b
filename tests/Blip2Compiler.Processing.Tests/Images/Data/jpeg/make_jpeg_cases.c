/* Makes the JPEG decoding cases of JpegDecodingTests: small synthetic images with sharp color edges, encoded with
 * each chroma layout libjpeg-turbo upsamples differently, and the RGB that libjpeg-turbo decodes from them with its
 * defaults (accurate integer IDCT, fancy upsampling): what PIL's Image.open(f).convert("RGB") gives.
 *
 *   gcc -O2 -o /tmp/make_jpeg_cases make_jpeg_cases.c -ljpeg && /tmp/make_jpeg_cases .   (needs libjpeg-turbo's dev files)
 *
 * Writes <case>.jpg and <case>.rgb (raw RGB rows) for each case. Given a photo and an output path after the folder,
 * also decodes the photo (JpegDecodingTests keeps the SHA-256 of that RGB for grace_hopper.jpg). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

struct layout { const char *name; int width, height, components, h0, v0, progressive, restart, rgb; };

static const struct layout cases[] = {
    {"s420", 67, 45, 3, 2, 2, 0, 0, 0},
    {"s422", 67, 45, 3, 2, 1, 0, 0, 0},
    {"s440", 67, 45, 3, 1, 2, 0, 0, 0},
    {"s444", 67, 45, 3, 1, 1, 0, 0, 0},
    {"s411", 67, 45, 3, 4, 1, 0, 0, 0},
    {"gray", 67, 45, 1, 1, 1, 0, 0, 0},
    {"progressive420", 67, 45, 3, 2, 2, 1, 0, 0},
    {"restart420", 67, 45, 3, 2, 2, 0, 2, 0},
    {"tiny420", 3, 2, 3, 2, 2, 0, 0, 0},
    {"rgb", 33, 21, 3, 1, 1, 0, 0, 1},
};

static unsigned char pixel(int x, int y, int c)
{
    switch (c) {
    case 0: return (unsigned char)((x * 7 + y * 3) & 255);
    case 1: return (unsigned char)((((x / 5) + (y / 3)) % 2) * 200 + 20);
    default: return (unsigned char)(((x * y) ^ (x << 3)) & 255);
    }
}

static void encode(const struct layout *l, const char *path)
{
    struct jpeg_compress_struct c; struct jpeg_error_mgr e;
    FILE *out = fopen(path, "wb");
    c.err = jpeg_std_error(&e); jpeg_create_compress(&c); jpeg_stdio_dest(&c, out);
    c.image_width = l->width; c.image_height = l->height;
    c.input_components = l->components; c.in_color_space = l->components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    if (l->rgb) jpeg_set_colorspace(&c, JCS_RGB);
    if (l->components == 3) {
        c.comp_info[0].h_samp_factor = l->h0; c.comp_info[0].v_samp_factor = l->v0;
        for (int i = 1; i < 3; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    }
    if (l->progressive) jpeg_simple_progression(&c);
    c.restart_interval = l->restart;
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc(l->width * l->components);
    while (c.next_scanline < c.image_height) {
        for (int x = 0; x < l->width; x++)
            for (int k = 0; k < l->components; k++) row[x * l->components + k] = pixel(x, c.next_scanline, k);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c); jpeg_destroy_compress(&c); fclose(out); free(row);
}

static void decode(const char *path, const char *rgbPath)
{
    struct jpeg_decompress_struct d; struct jpeg_error_mgr e;
    FILE *in = fopen(path, "rb"), *out = fopen(rgbPath, "wb");
    d.err = jpeg_std_error(&e); jpeg_create_decompress(&d); jpeg_stdio_src(&d, in); jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_RGB;   /* gray is expanded to RGB, as PIL's convert("RGB") */
    jpeg_start_decompress(&d);
    unsigned char *row = malloc(d.output_width * 3);
    while (d.output_scanline < d.output_height) { jpeg_read_scanlines(&d, &row, 1); fwrite(row, 1, d.output_width * 3, out); }
    jpeg_finish_decompress(&d); jpeg_destroy_decompress(&d); fclose(in); fclose(out); free(row);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    char jpg[512], rgb[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(jpg, sizeof jpg, "%s/%s.jpg", dir, cases[i].name);
        snprintf(rgb, sizeof rgb, "%s/%s.rgb", dir, cases[i].name);
        encode(&cases[i], jpg);
        decode(jpg, rgb);
        printf("%s %dx%d\n", cases[i].name, cases[i].width, cases[i].height);
    }
    if (argc > 2) { decode(argv[2], argv[3]); printf("%s decoded\n", argv[2]); }   /* a given photo, for a digest */
    return 0;
}
