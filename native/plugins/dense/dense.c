/*
 * The reference infergate plugin: a dense network (layers of matmul + bias, each with an optional
 * ReLU) computed on the CPU, read from a weights file in the format below. It is a real
 * implementation of the ABI, not a stub: vendors can read it as the template for their own.
 *
 * Weights file (all integers u32 little-endian, all floats IEEE fp32 little-endian):
 *   magic        8 bytes  "IGDENSE1"
 *   layer_count  u32      1 .. DENSE_MAX_LAYERS
 *   input_width  u32      1 .. DENSE_MAX_WIDTH
 *   then per layer, in order:
 *     output_width u32    1 .. DENSE_MAX_WIDTH
 *     activation   u32    0 = none, 1 = relu
 *     weights      f32[in_width * output_width], row-major [in][out]
 *     bias         f32[output_width]
 *   and nothing after the last layer.
 * Layer k computes y[j] = act(b[j] + sum_i x[i] * W[i][j]); its in_width is the previous layer's
 * output_width (input_width for the first).
 *
 * I/O: one FP32 input [-1, input_width] and one FP32 output [-1, last output_width]; dim 0 is the
 * batch. Their names are INPUT and OUTPUT unless the options string says otherwise:
 *   "input=NAME;output=NAME"   (either key may be omitted; unknown keys are refused)
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infergate_plugin.h"

#define DENSE_MAX_LAYERS 64u
#define DENSE_MAX_WIDTH 65536u
#define DENSE_MAX_NAME 64u

/* Built with -DIG_DENSE_REPORTED_ABI=<n> only to make a wrong-version plugin for infergate's tests. */
#ifndef IG_DENSE_REPORTED_ABI
#define IG_DENSE_REPORTED_ABI IG_PLUGIN_ABI_VERSION
#endif

typedef struct dense_layer {
  uint32_t in_width;
  uint32_t out_width;
  uint32_t relu;
  float *weights; /* [in_width][out_width] */
  float *bias;    /* [out_width] */
} dense_layer;

struct ig_model {
  uint32_t layer_count;
  dense_layer *layers;
  uint32_t max_width;
  char input_name[DENSE_MAX_NAME];
  char output_name[DENSE_MAX_NAME];
  ig_tensor_desc input_desc;
  ig_tensor_desc output_desc;
};

static _Thread_local char last_error[512];

static ig_status fail(ig_status status, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(last_error, sizeof last_error, format, args);
  va_end(args);
  return status;
}

uint32_t ig_plugin_abi_version(void) { return IG_DENSE_REPORTED_ABI; }

const char *ig_plugin_name(void) { return "infergate-dense-cpu 1.0"; }

const char *ig_last_error(void) { return last_error; }

static uint32_t read_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float read_f32(const unsigned char *p) {
  uint32_t bits = read_u32(p);
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/** Parses "input=NAME;output=NAME" into the model's names. */
static ig_status parse_options(const char *options, ig_model *m) {
  strcpy(m->input_name, "INPUT");
  strcpy(m->output_name, "OUTPUT");
  const char *p = options ? options : "";
  while (*p) {
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    if (len > 0) {
      if (!eq) return fail(IG_INVALID_ARG, "options: expected key=value, got '%.*s'", (int)len, p);
      size_t key_len = (size_t)(eq - p);
      size_t value_len = len - key_len - 1;
      char *target;
      if (key_len == 5 && strncmp(p, "input", 5) == 0) target = m->input_name;
      else if (key_len == 6 && strncmp(p, "output", 6) == 0) target = m->output_name;
      else return fail(IG_INVALID_ARG, "options: unknown key '%.*s' (known: input, output)", (int)key_len, p);
      if (value_len == 0 || value_len >= DENSE_MAX_NAME) {
        return fail(IG_INVALID_ARG, "options: '%.*s' must be 1 to %u characters", (int)key_len, p, DENSE_MAX_NAME - 1);
      }
      memcpy(target, eq + 1, value_len);
      target[value_len] = '\0';
    }
    p += len;
    if (*p == ';') p++;
  }
  return IG_OK;
}

static unsigned char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fail(IG_INTERNAL, "cannot open weights file %s: %s", path, strerror(errno));
    return NULL;
  }
  unsigned char *bytes = NULL;
  long length = -1;
  if (fseek(f, 0, SEEK_END) == 0) length = ftell(f);
  if (length < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fail(IG_INTERNAL, "cannot size weights file %s", path);
  } else if ((bytes = malloc(length > 0 ? (size_t)length : 1)) == NULL) {
    fail(IG_INTERNAL, "out of memory reading %s (%ld bytes)", path, length);
  } else if (fread(bytes, 1, (size_t)length, f) != (size_t)length) {
    fail(IG_INTERNAL, "cannot read weights file %s", path);
    free(bytes);
    bytes = NULL;
  }
  fclose(f);
  *size = (size_t)length;
  return bytes;
}

void ig_model_free(ig_model *m) {
  if (!m) return;
  for (uint32_t k = 0; k < m->layer_count && m->layers; k++) {
    free(m->layers[k].weights);
    free(m->layers[k].bias);
  }
  free(m->layers);
  free(m);
}

/** Reads the layers from the file's bytes; every length is checked before it is read. */
static ig_status parse_weights(const unsigned char *bytes, size_t size, const char *path, ig_model *m) {
  if (size < 16 || memcmp(bytes, "IGDENSE1", 8) != 0) {
    return fail(IG_INTERNAL, "%s is not a dense weights file (expected magic IGDENSE1)", path);
  }
  uint32_t layer_count = read_u32(bytes + 8);
  uint32_t width = read_u32(bytes + 12);
  if (layer_count < 1 || layer_count > DENSE_MAX_LAYERS) {
    return fail(IG_INTERNAL, "%s: layer_count must be 1..%u, got %u", path, DENSE_MAX_LAYERS, layer_count);
  }
  if (width < 1 || width > DENSE_MAX_WIDTH) {
    return fail(IG_INTERNAL, "%s: input_width must be 1..%u, got %u", path, DENSE_MAX_WIDTH, width);
  }
  m->layers = calloc(layer_count, sizeof *m->layers);
  if (!m->layers) return fail(IG_INTERNAL, "out of memory");
  m->layer_count = layer_count;
  m->max_width = width;
  size_t at = 16;
  for (uint32_t k = 0; k < layer_count; k++) {
    dense_layer *l = &m->layers[k];
    if (size - at < 8) return fail(IG_INTERNAL, "%s: truncated at layer %u header", path, k);
    l->in_width = width;
    l->out_width = read_u32(bytes + at);
    l->relu = read_u32(bytes + at + 4);
    at += 8;
    if (l->out_width < 1 || l->out_width > DENSE_MAX_WIDTH) {
      return fail(IG_INTERNAL, "%s: layer %u output_width must be 1..%u, got %u", path, k, DENSE_MAX_WIDTH, l->out_width);
    }
    if (l->relu > 1) return fail(IG_INTERNAL, "%s: layer %u activation must be 0 (none) or 1 (relu), got %u", path, k, l->relu);
    size_t weight_count = (size_t)l->in_width * l->out_width;
    size_t need = (weight_count + l->out_width) * 4;
    if (size - at < need) return fail(IG_INTERNAL, "%s: truncated in layer %u (needs %zu more bytes, has %zu)", path, k, need, size - at);
    l->weights = malloc(weight_count * sizeof(float));
    l->bias = malloc(l->out_width * sizeof(float));
    if (!l->weights || !l->bias) return fail(IG_INTERNAL, "out of memory for layer %u", k);
    for (size_t i = 0; i < weight_count; i++, at += 4) l->weights[i] = read_f32(bytes + at);
    for (uint32_t j = 0; j < l->out_width; j++, at += 4) l->bias[j] = read_f32(bytes + at);
    width = l->out_width;
    if (width > m->max_width) m->max_width = width;
  }
  if (at != size) return fail(IG_INTERNAL, "%s: %zu bytes after the last layer", path, size - at);
  return IG_OK;
}

ig_status ig_model_load(const char *path, const char *options, const char *device, ig_model **out) {
  *out = NULL;
  if (!device || strcmp(device, "cpu") != 0) {
    return fail(IG_UNSUPPORTED, "the dense reference plugin runs on the CPU only, asked for device '%s'", device ? device : "(null)");
  }
  ig_model *m = calloc(1, sizeof *m);
  if (!m) return fail(IG_INTERNAL, "out of memory");
  ig_status status = parse_options(options, m);
  size_t size = 0;
  unsigned char *bytes = NULL;
  if (status == IG_OK) {
    bytes = read_file(path, &size);
    status = bytes ? parse_weights(bytes, size, path, m) : IG_INTERNAL;
  }
  free(bytes);
  if (status != IG_OK) {
    ig_model_free(m);
    return status;
  }
  m->input_desc = (ig_tensor_desc){.name = m->input_name, .datatype = IG_FP32, .rank = 2, .dims = {-1, m->layers[0].in_width}};
  m->output_desc = (ig_tensor_desc){.name = m->output_name, .datatype = IG_FP32, .rank = 2, .dims = {-1, m->layers[m->layer_count - 1].out_width}};
  *out = m;
  return IG_OK;
}

ig_status ig_model_describe(const ig_model *m, ig_model_io *out) {
  if (!m || !out) return fail(IG_INVALID_ARG, "ig_model_describe: NULL argument");
  *out = (ig_model_io){.inputs = &m->input_desc, .input_count = 1, .outputs = &m->output_desc, .output_count = 1};
  return IG_OK;
}

/** One layer over `rows` rows: out[r][j] = act(b[j] + sum_i in[r][i] * W[i][j]). */
static void run_layer(const dense_layer *l, const float *in, float *out, size_t rows) {
  for (size_t r = 0; r < rows; r++) {
    const float *x = in + r * l->in_width;
    float *y = out + r * l->out_width;
    memcpy(y, l->bias, l->out_width * sizeof(float));
    for (uint32_t i = 0; i < l->in_width; i++) {
      const float xi = x[i];
      const float *w = l->weights + (size_t)i * l->out_width;
      for (uint32_t j = 0; j < l->out_width; j++) y[j] += xi * w[j];
    }
    if (l->relu) {
      for (uint32_t j = 0; j < l->out_width; j++) if (y[j] < 0.0f) y[j] = 0.0f;
    }
  }
}

ig_status ig_model_execute(ig_model *m, const ig_tensor *inputs, uint32_t input_count, ig_tensor *outputs, uint32_t output_count) {
  if (!m || !inputs || !outputs) return fail(IG_INVALID_ARG, "ig_model_execute: NULL argument");
  for (uint32_t i = 0; i < output_count; i++) outputs[i].data = NULL;
  if (input_count != 1 || output_count != 1) {
    return fail(IG_INVALID_ARG, "expected 1 input and 1 output, got %u and %u", input_count, output_count);
  }
  const ig_tensor *x = &inputs[0];
  const uint32_t in_width = m->layers[0].in_width;
  if (x->datatype != IG_FP32) return fail(IG_INVALID_ARG, "input '%s' must be FP32", m->input_name);
  if (x->rank != 2 || x->shape[0] < 0 || x->shape[1] != (int64_t)in_width) {
    return fail(IG_INVALID_ARG, "input '%s' must have shape [rows, %u]", m->input_name, in_width);
  }
  const size_t rows = (size_t)x->shape[0];
  if (x->byte_size != rows * in_width * sizeof(float)) {
    return fail(IG_INVALID_ARG, "input '%s' has %zu bytes for shape [%zu, %u]", m->input_name, x->byte_size, rows, in_width);
  }
  const uint32_t out_width = m->layers[m->layer_count - 1].out_width;
  /* Two scratch buffers ping-pong between layers; the last layer writes straight into the output. */
  size_t scratch_floats = rows * m->max_width;
  float *result = malloc((rows * out_width > 0 ? rows * out_width : 1) * sizeof(float));
  float *scratch = malloc((scratch_floats > 0 ? 2 * scratch_floats : 1) * sizeof(float));
  if (!result || !scratch) {
    free(result);
    free(scratch);
    return fail(IG_INTERNAL, "out of memory for a batch of %zu rows", rows);
  }
  const float *in = x->data;
  for (uint32_t k = 0; k < m->layer_count; k++) {
    float *out = k + 1 == m->layer_count ? result : scratch + (k % 2) * scratch_floats;
    run_layer(&m->layers[k], in, out, rows);
    in = out;
  }
  free(scratch);
  outputs[0] = (ig_tensor){
    .name = m->output_name, .datatype = IG_FP32, .rank = 2, .shape = {(int64_t)rows, out_width},
    .data = result, .byte_size = rows * out_width * sizeof(float),
  };
  return IG_OK;
}

void ig_model_release_outputs(ig_model *m, ig_tensor *outputs, uint32_t output_count) {
  (void)m;
  for (uint32_t i = 0; i < output_count; i++) {
    free(outputs[i].data);
    outputs[i].data = NULL;
  }
}
