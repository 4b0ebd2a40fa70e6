/*
 * infergate native plugin ABI, version 1.
 *
 * A plugin is a shared library (.so) that runs models for a runtime onnxruntime does not cover
 * (a vendor NPU SDK, a hand-written kernel library). infergate's N-API addon dlopen()s it, checks
 * ig_plugin_abi_version() against the version it was built for, then resolves the other symbols
 * below by name. Every function is plain C with C linkage; a plugin written in C++ wraps its
 * definitions in extern "C" (this header does that for you).
 *
 * Threads. ig_model_load, ig_model_execute and ig_model_free run on worker threads of the
 * server, never on its JavaScript thread. infergate never calls ig_model_execute twice at once on
 * the same model handle, but it may call functions on *different* handles from different threads
 * at the same time; a plugin that shares state between handles must lock it. A plugin that can
 * only run one model at a time must serialise internally.
 *
 * Memory. Input buffers belong to infergate and are valid only during the call. Output buffers
 * are allocated by the plugin inside ig_model_execute and belong to the plugin until infergate
 * hands them back with ig_model_release_outputs (after copying them out). Descriptions returned
 * by ig_model_describe belong to the model handle and stay valid until ig_model_free.
 *
 * Errors. A function that fails returns a status other than IG_OK and leaves a message for
 * ig_last_error() on the calling thread (thread-local: another thread's failure never overwrites it).
 *
 * Compatibility. The ABI version changes whenever any struct, enum value or signature here
 * changes; a plugin built against another version is refused at load with both numbers named.
 * ig_plugin_abi_version() itself never changes, so the check is always safe to make.
 */
#ifndef INFERGATE_PLUGIN_H
#define INFERGATE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The ABI this header describes. A plugin returns exactly this from ig_plugin_abi_version(). */
#define IG_PLUGIN_ABI_VERSION 1u

/** Symbols default to visible so that -fvisibility=hidden builds still export them. */
#if defined(__GNUC__)
#define IG_EXPORT __attribute__((visibility("default")))
#else
#define IG_EXPORT
#endif

/** Result of every fallible call. */
typedef enum ig_status {
  IG_OK = 0,
  /** The caller's input is wrong (shape, datatype, missing tensor): the client's mistake (HTTP 400). */
  IG_INVALID_ARG = 1,
  /** The plugin or device failed (out of memory, device lost, bad weights file): the server's fault (HTTP 500). */
  IG_INTERNAL = 2,
  /** Well-formed but not something this plugin can do (a datatype it lacks) (HTTP 501). */
  IG_UNSUPPORTED = 3
} ig_status;

/** Element types, named as in KServe v2. Variable-length BYTES is not part of ABI 1. */
typedef enum ig_datatype {
  IG_BOOL = 1, /* one byte per element, 0 or 1 */
  IG_UINT8 = 2,
  IG_UINT16 = 3,
  IG_UINT32 = 4,
  IG_UINT64 = 5,
  IG_INT8 = 6,
  IG_INT16 = 7,
  IG_INT32 = 8,
  IG_INT64 = 9,
  IG_FP16 = 10, /* IEEE half, raw 16-bit pattern */
  IG_FP32 = 11,
  IG_FP64 = 12,
  IG_BF16 = 13 /* bfloat16, raw 16-bit pattern */
} ig_datatype;

/** The most dims a tensor may have in ABI 1. */
#define IG_MAX_RANK 8

/** A tensor's declared signature. dims[i] == -1 means the dim varies per call (the batch dim, say). */
typedef struct ig_tensor_desc {
  const char *name;
  ig_datatype datatype;
  uint32_t rank;
  int64_t dims[IG_MAX_RANK];
} ig_tensor_desc;

/** What a model takes and gives: arrays owned by the model handle. */
typedef struct ig_model_io {
  const ig_tensor_desc *inputs;
  uint32_t input_count;
  const ig_tensor_desc *outputs;
  uint32_t output_count;
} ig_model_io;

/**
 * One tensor of one call. Row-major, densely packed, host memory, native byte order.
 * byte_size == element count × element size.
 */
typedef struct ig_tensor {
  const char *name;
  ig_datatype datatype;
  uint32_t rank;
  int64_t shape[IG_MAX_RANK];
  void *data;
  size_t byte_size;
} ig_tensor;

/** A loaded model; opaque to infergate. */
typedef struct ig_model ig_model;

/**
 * The ABI version the plugin was built against: return IG_PLUGIN_ABI_VERSION. Called first,
 * before any other symbol is looked up. Never fails.
 */
IG_EXPORT uint32_t ig_plugin_abi_version(void);

/** A short, static, human-readable name and version of the plugin, e.g. "dense-cpu 1.0". Never NULL. */
IG_EXPORT const char *ig_plugin_name(void);

/**
 * Loads one model for one device. `path` is the model's weights file (the declaration's model_file
 * for one version), absolute. `options` is the declaration's `native.options` string, "" when
 * absent; its syntax is the plugin's to define. `device` is the id of the card the instance runs
 * on, as infergate names it: "cpu", "npu0", "gpu1"; a plugin refuses a device it cannot use with
 * IG_UNSUPPORTED. On success stores a new handle in *out and returns IG_OK. On failure stores
 * NULL, returns an error status and sets the last error. Each instance loads its own handle.
 */
IG_EXPORT ig_status ig_model_load(const char *path, const char *options, const char *device, ig_model **out);

/**
 * Describes the model's inputs and outputs, in the order ig_model_execute uses. Fills *out with
 * pointers owned by the handle (valid until ig_model_free). Cheap; may be called at any time.
 */
IG_EXPORT ig_status ig_model_describe(const ig_model *model, ig_model_io *out);

/**
 * Runs one batch. `inputs` holds input_count tensors, exactly one per described input, in
 * described order; the caller has checked names, datatypes, ranks and fixed dims against the
 * description, but the plugin must still check what only it knows (dims that must agree with each
 * other, byte sizes). `outputs` is caller memory for output_count tensors (= the described count);
 * the plugin fills each one: name (a pointer into the handle's description is fine), datatype,
 * rank, shape, and data/byte_size pointing at memory the plugin allocated. The plugin keeps
 * ownership of that memory until ig_model_release_outputs. On failure the plugin frees whatever
 * it allocated itself, leaves every outputs[i].data NULL, returns an error status and sets the
 * last error; infergate then does not call ig_model_release_outputs.
 */
IG_EXPORT ig_status ig_model_execute(ig_model *model, const ig_tensor *inputs, uint32_t input_count,
                                     ig_tensor *outputs, uint32_t output_count);

/** Frees the data of `outputs` filled by a successful ig_model_execute on `model`. Never fails. */
IG_EXPORT void ig_model_release_outputs(ig_model *model, ig_tensor *outputs, uint32_t output_count);

/** Frees the model and everything it owns. NULL is allowed and does nothing. Never called during execute. */
IG_EXPORT void ig_model_free(ig_model *model);

/**
 * The message of the last failed call on the calling thread, "" when there is none. The string
 * belongs to the plugin and is valid until the next call on this thread.
 */
IG_EXPORT const char *ig_last_error(void);

/** Each symbol's name, for loaders. */
#define IG_SYMBOL_ABI_VERSION "ig_plugin_abi_version"
#define IG_SYMBOL_NAME "ig_plugin_name"
#define IG_SYMBOL_LOAD "ig_model_load"
#define IG_SYMBOL_DESCRIBE "ig_model_describe"
#define IG_SYMBOL_EXECUTE "ig_model_execute"
#define IG_SYMBOL_RELEASE_OUTPUTS "ig_model_release_outputs"
#define IG_SYMBOL_FREE "ig_model_free"
#define IG_SYMBOL_LAST_ERROR "ig_last_error"

#ifdef __cplusplus
}
#endif

#endif /* INFERGATE_PLUGIN_H */
