/*
 * infergate's N-API addon for native plugins (native/include/infergate_plugin.h). It opens a
 * plugin, refuses one built for another ABI version, and runs load and execute as napi_async_work
 * so that the JavaScript thread never waits on a model: both run on libuv's thread pool and settle
 * a promise back on the JavaScript thread.
 *
 * JS surface (engines/native-addon.ts types it):
 *   abiVersion                                   the ABI this addon speaks
 *   openPlugin(path) -> { plugin, name, abiVersion }
 *   loadModel(plugin, weightsPath, options, device) -> Promise<model>
 *   describe(model) -> { inputs: Desc[], outputs: Desc[] }, Desc = { name, datatype, dims }
 *   execute(model, [{ name, datatype, shape, data: TypedArray }]) -> Promise<[{ name, datatype, shape, data: ArrayBuffer }]>
 *   freeModel(model)
 * Datatypes travel as ig_datatype numbers. Errors carry `code`: IG_INVALID_ARG, IG_INTERNAL,
 * IG_UNSUPPORTED, or IG_ADDON for misuse of this addon (wrong argument types, a freed model).
 *
 * Plugins stay loaded for the life of the process (no dlclose): a library unloaded while a
 * finaliser or thread of it still runs crashes the process, and reopening the same path is free.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>

#include "infergate_plugin.h"

typedef struct plugin_api {
  uint32_t abi;
  const char *(*name)(void);
  ig_status (*load)(const char *, const char *, const char *, ig_model **);
  ig_status (*describe)(const ig_model *, ig_model_io *);
  ig_status (*execute)(ig_model *, const ig_tensor *, uint32_t, ig_tensor *, uint32_t);
  void (*release_outputs)(ig_model *, ig_tensor *, uint32_t);
  void (*free_model)(ig_model *);
  const char *(*last_error)(void);
} plugin_api;

/** A model handle as JS holds it. `busy` is set while an execute runs on the thread pool. */
typedef struct model_box {
  const plugin_api *api;
  ig_model *model;
  int busy;
  int free_pending;
} model_box;

#define CHECK(env, call)                                             \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      throw_error(env, "IG_ADDON", "N-API call failed: %s", #call); \
      return NULL;                                                   \
    }                                                                \
  } while (0)

static void throw_error(napi_env env, const char *code, const char *format, ...) {
  char message[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  napi_throw_error(env, code, message);
}

static napi_value make_error(napi_env env, const char *code, const char *message) {
  napi_value code_value, message_value, error;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value);
  napi_create_error(env, code_value, message_value, &error);
  return error;
}

static const char *status_code(ig_status status) {
  switch (status) {
    case IG_INVALID_ARG: return "IG_INVALID_ARG";
    case IG_UNSUPPORTED: return "IG_UNSUPPORTED";
    default: return "IG_INTERNAL";
  }
}

/** The plugin's last error, copied at once (it is only valid until the thread's next call). */
static char *copy_last_error(const plugin_api *api, ig_status status) {
  const char *text = api->last_error();
  if (!text || !*text) text = "the plugin failed without a message";
  char *copy = malloc(strlen(text) + 64);
  if (copy) sprintf(copy, "%s (status %d)", text, (int)status);
  return copy;
}

static char *get_string(napi_env env, napi_value value, const char *what) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
    throw_error(env, "IG_ADDON", "%s must be a string", what);
    return NULL;
  }
  char *text = malloc(length + 1);
  if (!text) {
    throw_error(env, "IG_ADDON", "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, value, text, length + 1, &length);
  return text;
}

static void *get_external(napi_env env, napi_value value, const char *what) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || !data) {
    throw_error(env, "IG_ADDON", "%s must be a handle from this addon", what);
    return NULL;
  }
  return data;
}

/* ---- openPlugin ---------------------------------------------------------------------------- */

static napi_value open_plugin(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *path = argc >= 1 ? get_string(env, argv[0], "plugin path") : NULL;
  if (!path) {
    if (argc < 1) throw_error(env, "IG_ADDON", "openPlugin(path) needs a path");
    return NULL;
  }
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    throw_error(env, "IG_PLUGIN", "cannot open plugin %s: %s", path, dlerror());
    free(path);
    return NULL;
  }
  uint32_t (*abi_version)(void) = (uint32_t(*)(void))dlsym(lib, IG_SYMBOL_ABI_VERSION);
  if (!abi_version) {
    throw_error(env, "IG_PLUGIN", "%s is not an infergate plugin: it exports no %s()", path, IG_SYMBOL_ABI_VERSION);
    free(path);
    return NULL;
  }
  uint32_t abi = abi_version();
  if (abi != IG_PLUGIN_ABI_VERSION) {
    throw_error(env, "IG_PLUGIN_ABI", "plugin %s implements infergate plugin ABI version %u, but this infergate speaks version %u; rebuild the plugin against native/include/infergate_plugin.h of this infergate",
                path, abi, IG_PLUGIN_ABI_VERSION);
    free(path);
    return NULL;
  }
  plugin_api *api = calloc(1, sizeof *api);
  if (!api) {
    free(path);
    throw_error(env, "IG_ADDON", "out of memory");
    return NULL;
  }
  api->abi = abi;
  struct { const char *symbol; void **slot; } symbols[] = {
    {IG_SYMBOL_NAME, (void **)&api->name},
    {IG_SYMBOL_LOAD, (void **)&api->load},
    {IG_SYMBOL_DESCRIBE, (void **)&api->describe},
    {IG_SYMBOL_EXECUTE, (void **)&api->execute},
    {IG_SYMBOL_RELEASE_OUTPUTS, (void **)&api->release_outputs},
    {IG_SYMBOL_FREE, (void **)&api->free_model},
    {IG_SYMBOL_LAST_ERROR, (void **)&api->last_error},
  };
  for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
    *symbols[i].slot = dlsym(lib, symbols[i].symbol);
    if (!*symbols[i].slot) {
      throw_error(env, "IG_PLUGIN", "plugin %s does not export %s(), which ABI version %u requires", path, symbols[i].symbol, abi);
      free(api);
      free(path);
      return NULL;
    }
  }
  free(path);
  // The api table lives as long as the process, like the library it points into.
  napi_value result, handle, name, version;
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_create_external(env, api, NULL, NULL, &handle));
  const char *plugin_name = api->name();
  CHECK(env, napi_create_string_utf8(env, plugin_name ? plugin_name : "", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_create_uint32(env, abi, &version));
  CHECK(env, napi_set_named_property(env, result, "plugin", handle));
  CHECK(env, napi_set_named_property(env, result, "name", name));
  CHECK(env, napi_set_named_property(env, result, "abiVersion", version));
  return result;
}

/* ---- model handles --------------------------------------------------------------------------- */

static void finalize_model(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  model_box *box = data;
  // An execute in flight holds a reference to the handle, so the box is never busy here.
  if (box->model) box->api->free_model(box->model);
  free(box);
}

static napi_value free_model(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  model_box *box = argc >= 1 ? get_external(env, argv[0], "model") : NULL;
  if (!box) return NULL;
  if (box->busy) {
    box->free_pending = 1; // freed when the execute in flight completes
  } else if (box->model) {
    box->api->free_model(box->model);
    box->model = NULL;
  }
  return NULL;
}

/* ---- loadModel (async) ------------------------------------------------------------------------ */

typedef struct load_work {
  napi_async_work work;
  napi_deferred deferred;
  const plugin_api *api;
  char *path;
  char *options;
  char *device;
  ig_model *model;
  ig_status status;
  char *error;
} load_work;

static void load_execute(napi_env env, void *data) {
  (void)env;
  load_work *w = data;
  w->status = w->api->load(w->path, w->options, w->device, &w->model);
  if (w->status != IG_OK) {
    w->error = copy_last_error(w->api, w->status);
    if (w->model) w->api->free_model(w->model); // a plugin that broke the contract leaks nothing
    w->model = NULL;
  } else if (!w->model) {
    w->status = IG_INTERNAL;
    w->error = strdup("the plugin reported success but returned no model");
  }
}

static void load_complete(napi_env env, napi_status status, void *data) {
  load_work *w = data;
  if (status != napi_ok || w->status != IG_OK) {
    napi_reject_deferred(env, w->deferred, make_error(env, w->status != IG_OK ? status_code(w->status) : "IG_ADDON", w->error ? w->error : "load was cancelled"));
    if (w->model) w->api->free_model(w->model);
  } else {
    model_box *box = calloc(1, sizeof *box);
    napi_value handle;
    if (!box) {
      w->api->free_model(w->model);
      napi_reject_deferred(env, w->deferred, make_error(env, "IG_ADDON", "out of memory"));
    } else {
      box->api = w->api;
      box->model = w->model;
      napi_create_external(env, box, finalize_model, NULL, &handle);
      napi_resolve_deferred(env, w->deferred, handle);
    }
  }
  napi_delete_async_work(env, w->work);
  free(w->path);
  free(w->options);
  free(w->device);
  free(w->error);
  free(w);
}

static napi_value load_model(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    throw_error(env, "IG_ADDON", "loadModel(plugin, path, options, device) needs four arguments");
    return NULL;
  }
  const plugin_api *api = get_external(env, argv[0], "plugin");
  if (!api) return NULL;
  load_work *w = calloc(1, sizeof *w);
  if (!w) {
    throw_error(env, "IG_ADDON", "out of memory");
    return NULL;
  }
  w->api = api;
  w->path = get_string(env, argv[1], "model path");
  w->options = w->path ? get_string(env, argv[2], "options") : NULL;
  w->device = w->options ? get_string(env, argv[3], "device") : NULL;
  if (!w->path || !w->options || !w->device) {
    free(w->path);
    free(w->options);
    free(w);
    return NULL;
  }
  napi_value promise, name;
  CHECK(env, napi_create_promise(env, &w->deferred, &promise));
  CHECK(env, napi_create_string_utf8(env, "infergate:native:load", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_create_async_work(env, NULL, name, load_execute, load_complete, w, &w->work));
  CHECK(env, napi_queue_async_work(env, w->work));
  return promise;
}

/* ---- describe -------------------------------------------------------------------------------- */

static napi_value desc_array(napi_env env, const ig_tensor_desc *descs, uint32_t count) {
  napi_value array;
  CHECK(env, napi_create_array_with_length(env, count, &array));
  for (uint32_t i = 0; i < count; i++) {
    const ig_tensor_desc *d = &descs[i];
    if (d->rank > IG_MAX_RANK) {
      throw_error(env, "IG_PLUGIN", "the plugin describes tensor %u with rank %u (the ABI allows at most %u)", i, d->rank, IG_MAX_RANK);
      return NULL;
    }
    napi_value item, name, datatype, dims;
    CHECK(env, napi_create_object(env, &item));
    CHECK(env, napi_create_string_utf8(env, d->name ? d->name : "", NAPI_AUTO_LENGTH, &name));
    CHECK(env, napi_create_int32(env, (int32_t)d->datatype, &datatype));
    CHECK(env, napi_create_array_with_length(env, d->rank, &dims));
    for (uint32_t k = 0; k < d->rank; k++) {
      napi_value dim;
      CHECK(env, napi_create_int64(env, d->dims[k], &dim));
      CHECK(env, napi_set_element(env, dims, k, dim));
    }
    CHECK(env, napi_set_named_property(env, item, "name", name));
    CHECK(env, napi_set_named_property(env, item, "datatype", datatype));
    CHECK(env, napi_set_named_property(env, item, "dims", dims));
    CHECK(env, napi_set_element(env, array, i, item));
  }
  return array;
}

static model_box *live_model(napi_env env, napi_value value) {
  model_box *box = get_external(env, value, "model");
  if (box && (!box->model || box->free_pending)) {
    throw_error(env, "IG_ADDON", "the model was freed");
    return NULL;
  }
  return box;
}

static napi_value describe(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  model_box *box = argc >= 1 ? live_model(env, argv[0]) : NULL;
  if (!box) return NULL;
  ig_model_io io;
  memset(&io, 0, sizeof io);
  ig_status status = box->api->describe(box->model, &io);
  if (status != IG_OK) {
    char *message = copy_last_error(box->api, status);
    throw_error(env, status_code(status), "%s", message ? message : "describe failed");
    free(message);
    return NULL;
  }
  napi_value result, inputs, outputs;
  CHECK(env, napi_create_object(env, &result));
  if (!(inputs = desc_array(env, io.inputs, io.input_count))) return NULL;
  if (!(outputs = desc_array(env, io.outputs, io.output_count))) return NULL;
  CHECK(env, napi_set_named_property(env, result, "inputs", inputs));
  CHECK(env, napi_set_named_property(env, result, "outputs", outputs));
  return result;
}

/* ---- execute (async) ------------------------------------------------------------------------- */

typedef struct exec_work {
  napi_async_work work;
  napi_deferred deferred;
  model_box *box;
  napi_ref model_ref;   // keeps the handle from being collected while the plugin runs
  uint32_t input_count;
  ig_tensor *inputs;
  napi_ref *input_refs; // keeps each input's memory alive while the plugin reads it
  uint32_t output_count;
  ig_tensor *outputs;
  ig_status status;
  char *error;
} exec_work;

static void exec_free(napi_env env, exec_work *w) {
  for (uint32_t i = 0; i < w->input_count; i++) {
    if (w->input_refs && w->input_refs[i]) napi_delete_reference(env, w->input_refs[i]);
    if (w->inputs) free((char *)w->inputs[i].name);
  }
  if (w->model_ref) napi_delete_reference(env, w->model_ref);
  free(w->input_refs);
  free(w->inputs);
  free(w->outputs);
  free(w->error);
  free(w);
}

static void exec_execute(napi_env env, void *data) {
  (void)env;
  exec_work *w = data;
  w->status = w->box->api->execute(w->box->model, w->inputs, w->input_count, w->outputs, w->output_count);
  if (w->status != IG_OK) w->error = copy_last_error(w->box->api, w->status);
}

static napi_value output_object(napi_env env, const ig_tensor *t) {
  napi_value item, name, datatype, shape, buffer;
  void *bytes = NULL;
  if (t->rank > IG_MAX_RANK) {
    throw_error(env, "IG_PLUGIN", "the plugin returned an output of rank %u (the ABI allows at most %u)", t->rank, IG_MAX_RANK);
    return NULL;
  }
  CHECK(env, napi_create_object(env, &item));
  CHECK(env, napi_create_string_utf8(env, t->name ? t->name : "", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_create_int32(env, (int32_t)t->datatype, &datatype));
  CHECK(env, napi_create_array_with_length(env, t->rank, &shape));
  for (uint32_t k = 0; k < t->rank; k++) {
    napi_value dim;
    CHECK(env, napi_create_int64(env, t->shape[k], &dim));
    CHECK(env, napi_set_element(env, shape, k, dim));
  }
  // A copy: the plugin's buffer goes back to it right after this call.
  CHECK(env, napi_create_arraybuffer(env, t->byte_size, &bytes, &buffer));
  if (t->byte_size > 0) memcpy(bytes, t->data, t->byte_size);
  CHECK(env, napi_set_named_property(env, item, "name", name));
  CHECK(env, napi_set_named_property(env, item, "datatype", datatype));
  CHECK(env, napi_set_named_property(env, item, "shape", shape));
  CHECK(env, napi_set_named_property(env, item, "data", buffer));
  return item;
}

static void exec_complete(napi_env env, napi_status status, void *data) {
  exec_work *w = data;
  model_box *box = w->box;
  if (status != napi_ok) {
    napi_reject_deferred(env, w->deferred, make_error(env, "IG_ADDON", "execute was cancelled"));
  } else if (w->status != IG_OK) {
    napi_reject_deferred(env, w->deferred, make_error(env, status_code(w->status), w->error ? w->error : "execute failed"));
  } else {
    napi_value array = NULL;
    int ok = napi_create_array_with_length(env, w->output_count, &array) == napi_ok;
    for (uint32_t i = 0; ok && i < w->output_count; i++) {
      napi_value item = output_object(env, &w->outputs[i]);
      ok = item != NULL && napi_set_element(env, array, i, item) == napi_ok;
    }
    box->api->release_outputs(box->model, w->outputs, w->output_count);
    if (ok) {
      napi_resolve_deferred(env, w->deferred, array);
    } else {
      napi_value exception;
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) napi_get_and_clear_last_exception(env, &exception);
      else exception = make_error(env, "IG_ADDON", "cannot build the outputs");
      napi_reject_deferred(env, w->deferred, exception);
    }
  }
  box->busy = 0;
  if (box->free_pending && box->model) {
    box->api->free_model(box->model);
    box->model = NULL;
  }
  napi_delete_async_work(env, w->work);
  exec_free(env, w);
}

/** Reads one { name, datatype, shape, data } input into t, referencing its memory. */
static int read_input(napi_env env, napi_value item, ig_tensor *t, napi_ref *ref, uint32_t index) {
  napi_value name, datatype, shape, data;
  if (napi_get_named_property(env, item, "name", &name) != napi_ok ||
      napi_get_named_property(env, item, "datatype", &datatype) != napi_ok ||
      napi_get_named_property(env, item, "shape", &shape) != napi_ok ||
      napi_get_named_property(env, item, "data", &data) != napi_ok) {
    throw_error(env, "IG_ADDON", "input %u must be an object with name, datatype, shape and data", index);
    return 0;
  }
  t->name = get_string(env, name, "input name");
  if (!t->name) return 0;
  int32_t dt = 0;
  if (napi_get_value_int32(env, datatype, &dt) != napi_ok) {
    throw_error(env, "IG_ADDON", "input %u: datatype must be a number", index);
    return 0;
  }
  t->datatype = (ig_datatype)dt;
  bool is_array = false;
  uint32_t rank = 0;
  if (napi_is_array(env, shape, &is_array) != napi_ok || !is_array || napi_get_array_length(env, shape, &rank) != napi_ok || rank > IG_MAX_RANK) {
    throw_error(env, "IG_ADDON", "input %u: shape must be an array of at most %u dims", index, IG_MAX_RANK);
    return 0;
  }
  t->rank = rank;
  for (uint32_t k = 0; k < rank; k++) {
    napi_value dim;
    if (napi_get_element(env, shape, k, &dim) != napi_ok || napi_get_value_int64(env, dim, &t->shape[k]) != napi_ok || t->shape[k] < 0) {
      throw_error(env, "IG_ADDON", "input %u: dim %u must be a non-negative integer", index, k);
      return 0;
    }
  }
  bool is_typed = false;
  if (napi_is_typedarray(env, data, &is_typed) != napi_ok || !is_typed) {
    throw_error(env, "IG_ADDON", "input %u: data must be a typed array", index);
    return 0;
  }
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  napi_value arraybuffer;
  void *bytes = NULL;
  if (napi_get_typedarray_info(env, data, &type, &length, &bytes, &arraybuffer, &offset) != napi_ok) {
    throw_error(env, "IG_ADDON", "input %u: cannot read its data", index);
    return 0;
  }
  size_t element = 1;
  switch (type) {
    case napi_int16_array: case napi_uint16_array: element = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: element = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: element = 8; break;
    default: element = 1;
  }
  t->data = bytes;
  t->byte_size = length * element;
  return napi_create_reference(env, data, 1, ref) == napi_ok;
}

static napi_value execute(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    throw_error(env, "IG_ADDON", "execute(model, inputs) needs two arguments");
    return NULL;
  }
  model_box *box = live_model(env, argv[0]);
  if (!box) return NULL;
  if (box->busy) {
    throw_error(env, "IG_ADDON", "the model is already executing (one execute at a time per model)");
    return NULL;
  }
  bool is_array = false;
  uint32_t count = 0;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    throw_error(env, "IG_ADDON", "inputs must be an array");
    return NULL;
  }
  CHECK(env, napi_get_array_length(env, argv[1], &count));
  ig_model_io io;
  memset(&io, 0, sizeof io);
  if (box->api->describe(box->model, &io) != IG_OK) {
    char *message = copy_last_error(box->api, IG_INTERNAL);
    throw_error(env, "IG_INTERNAL", "%s", message ? message : "describe failed");
    free(message);
    return NULL;
  }
  exec_work *w = calloc(1, sizeof *w);
  if (!w) {
    throw_error(env, "IG_ADDON", "out of memory");
    return NULL;
  }
  w->box = box;
  w->status = IG_INTERNAL; // until the plugin runs: a cancelled work has no outputs to release
  w->input_count = count;
  w->output_count = io.output_count;
  w->inputs = calloc(count ? count : 1, sizeof *w->inputs);
  w->input_refs = calloc(count ? count : 1, sizeof *w->input_refs);
  w->outputs = calloc(io.output_count ? io.output_count : 1, sizeof *w->outputs);
  if (!w->inputs || !w->input_refs || !w->outputs) {
    exec_free(env, w);
    throw_error(env, "IG_ADDON", "out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    if (napi_get_element(env, argv[1], i, &item) != napi_ok || !read_input(env, item, &w->inputs[i], &w->input_refs[i], i)) {
      exec_free(env, w);
      return NULL;
    }
  }
  napi_value promise, name;
  if (napi_create_reference(env, argv[0], 1, &w->model_ref) != napi_ok ||
      napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "infergate:native:execute", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, exec_execute, exec_complete, w, &w->work) != napi_ok) {
    exec_free(env, w);
    throw_error(env, "IG_ADDON", "cannot start the execute");
    return NULL;
  }
  box->busy = 1;
  CHECK(env, napi_queue_async_work(env, w->work));
  return promise;
}

/* ---- module ---------------------------------------------------------------------------------- */

static napi_value init(napi_env env, napi_value exports) {
  napi_value version;
  CHECK(env, napi_create_uint32(env, IG_PLUGIN_ABI_VERSION, &version));
  napi_property_descriptor properties[] = {
    {"abiVersion", NULL, NULL, NULL, NULL, version, napi_enumerable, NULL},
    {"openPlugin", NULL, open_plugin, NULL, NULL, NULL, napi_enumerable, NULL},
    {"loadModel", NULL, load_model, NULL, NULL, NULL, napi_enumerable, NULL},
    {"describe", NULL, describe, NULL, NULL, NULL, napi_enumerable, NULL},
    {"execute", NULL, execute, NULL, NULL, NULL, napi_enumerable, NULL},
    {"freeModel", NULL, free_model, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
