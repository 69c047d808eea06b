/*
 * mlxc.h: modelbar's own declarations of the part of the mlx-c C API that
 * the MLX backend uses, pinned to the mlx-c 0.6.0 ABI (MLX core 0.31.x).
 *
 * Nothing here is linked: every mlx-c function is reached through a pointer
 * that dlsym returned (struct mb_api), so the binary builds and runs where
 * libmlxc is absent. The signatures were checked against the v0.6.0 tag of
 * ml-explore/mlx-c (mlx/c/array.h, ops.h, fast.h, transforms.h, stream.h,
 * vector.h, memory.h, string.h, version.h, error.h, metal.h). mlx-c handles
 * are structs holding one pointer and are passed by value; enums are ints.
 *
 * The mb_* functions are defined in mlxc.c: the symbol table, the error
 * handler and the few composite operations that would otherwise cross from
 * Go into C several times per call.
 */
#ifndef MODELBAR_MLXC_H
#define MODELBAR_MLXC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mb_string { void *ctx; } mb_string;
typedef struct mb_array { void *ctx; } mb_array;
typedef struct mb_stream { void *ctx; } mb_stream;
typedef struct mb_vector_array { void *ctx; } mb_vector_array;
typedef struct mb_map_string_to_array { void *ctx; } mb_map_string_to_array;
typedef struct mb_map_string_to_string { void *ctx; } mb_map_string_to_string;
typedef struct mb_optional_int { int value; bool has_value; } mb_optional_int;
typedef struct mb_optional_float { float value; bool has_value; } mb_optional_float;
typedef struct mb_optional_dtype { int value; bool has_value; } mb_optional_dtype;

/* mlx_dtype values (enum mlx_dtype_ in mlx/c/array.h). */
enum {
	MB_BOOL = 0,
	MB_UINT32 = 3,
	MB_INT32 = 7,
	MB_FLOAT16 = 9,
	MB_FLOAT32 = 10,
	MB_BFLOAT16 = 12,
};

typedef void (*mb_error_handler_func)(const char *msg, void *data);

/* The resolved mlx-c functions; field names drop the "mlx_" prefix. */
struct mb_api {
	/* error.h, string.h, version.h, metal.h */
	void (*set_error_handler)(mb_error_handler_func, void *, void (*)(void *));
	mb_string (*string_new)(void);
	const char *(*string_data)(mb_string);
	int (*string_free)(mb_string);
	int (*version)(mb_string *);
	int (*metal_is_available)(bool *);

	/* array.h, vector.h, transforms.h, stream.h, memory.h */
	mb_array (*array_new)(void);
	int (*array_free)(mb_array);
	mb_array (*array_new_data)(const void *, const int *, int, int);
	size_t (*array_ndim)(mb_array);
	size_t (*array_size)(mb_array);
	int (*array_dtype)(mb_array);
	const int *(*array_shape)(mb_array);
	const float *(*array_data_float32)(mb_array);
	const uint32_t *(*array_data_uint32)(mb_array);
	mb_vector_array (*vector_array_new_data)(const mb_array *, size_t);
	int (*vector_array_free)(mb_vector_array);
	int (*eval)(mb_vector_array);
	int (*async_eval)(mb_vector_array);
	mb_stream (*default_cpu_stream_new)(void);
	mb_stream (*default_gpu_stream_new)(void);
	int (*stream_free)(mb_stream);
	int (*synchronize)(mb_stream);
	int (*set_memory_limit)(size_t *, size_t);
	int (*set_cache_limit)(size_t *, size_t);
	int (*get_active_memory)(size_t *);
	int (*get_cache_memory)(size_t *);
	int (*get_peak_memory)(size_t *);
	int (*clear_cache)(void);

	/* io.h, map.h */
	int (*load_safetensors)(mb_map_string_to_array *, mb_map_string_to_string *,
				const char *, mb_stream);
	int (*map_string_to_array_get)(mb_array *, mb_map_string_to_array, const char *);
	int (*map_string_to_array_free)(mb_map_string_to_array);
	int (*map_string_to_string_free)(mb_map_string_to_string);

	/* ops.h */
	int (*add)(mb_array *, mb_array, mb_array, mb_stream);
	int (*multiply)(mb_array *, mb_array, mb_array, mb_stream);
	int (*sigmoid)(mb_array *, mb_array, mb_stream);
	int (*softmax_axis)(mb_array *, mb_array, int, bool, mb_stream);
	int (*reshape)(mb_array *, mb_array, const int *, size_t, mb_stream);
	int (*transpose_axes)(mb_array *, mb_array, const int *, size_t, mb_stream);
	int (*slice)(mb_array *, mb_array, const int *, size_t, const int *,
		     size_t, const int *, size_t, mb_stream);
	int (*slice_update)(mb_array *, mb_array, mb_array, const int *, size_t,
			    const int *, size_t, const int *, size_t, mb_stream);
	int (*concatenate_axis)(mb_array *, mb_vector_array, int, mb_stream);
	int (*zeros)(mb_array *, const int *, size_t, int, mb_stream);
	int (*argmax_axis)(mb_array *, mb_array, int, bool, mb_stream);
	int (*astype)(mb_array *, mb_array, int, mb_stream);
	int (*contiguous)(mb_array *, mb_array, bool, mb_stream);
	int (*matmul)(mb_array *, mb_array, mb_array, mb_stream);
	int (*take_axis)(mb_array *, mb_array, mb_array, int, mb_stream);
	int (*quantized_matmul)(mb_array *, mb_array, mb_array, mb_array, mb_array,
				bool, mb_optional_int, mb_optional_int,
				const char *, mb_stream);
	int (*dequantize)(mb_array *, mb_array, mb_array, mb_array,
			  mb_optional_int, mb_optional_int, const char *,
			  mb_array, mb_optional_dtype, mb_stream);

	/* fast.h */
	int (*fast_rms_norm)(mb_array *, mb_array, mb_array, float, mb_stream);
	int (*fast_rope)(mb_array *, mb_array, int, bool, mb_optional_float,
			 float, int, mb_array, mb_stream);
	int (*fast_scaled_dot_product_attention)(mb_array *, mb_array, mb_array,
						 mb_array, float, const char *,
						 mb_array, mb_array, mb_stream);

	/* Added for gemma3 (issue 16). */
	int (*tanh)(mb_array *, mb_array, mb_stream);
	mb_array (*array_new_float)(float);
	/* Added for mixture-of-experts (issue 16): ops.h, array.h. */
	int (*argpartition_axis)(mb_array *, mb_array, int, int, mb_stream);
	int (*take_along_axis)(mb_array *, mb_array, mb_array, int, mb_stream);
	int (*gather_mm)(mb_array *, mb_array, mb_array, mb_array, mb_array, bool, mb_stream);
	int (*gather_qmm)(mb_array *, mb_array, mb_array, mb_array, mb_array,
			  mb_array, mb_array, bool, mb_optional_int, mb_optional_int,
			  const char *, bool, mb_stream);
	int (*sum_axis)(mb_array *, mb_array, int, bool, mb_stream);
	int (*divide)(mb_array *, mb_array, mb_array, mb_stream);
	int (*negative)(mb_array *, mb_array, mb_stream);
	int (*minimum)(mb_array *, mb_array, mb_array, mb_stream);
	int (*maximum)(mb_array *, mb_array, mb_array, mb_stream);
	int (*expand_dims)(mb_array *, mb_array, int, mb_stream);
	int (*swapaxes)(mb_array *, mb_array, int, int, mb_stream);
	int (*argsort_axis)(mb_array *, mb_array, int, mb_stream);
	int (*floor_divide)(mb_array *, mb_array, mb_array, mb_stream);
	mb_array (*array_new_int)(int);
};

/* mb is the table filled by mb_bind; it is shared by the whole process. */
extern struct mb_api mb;

/* mb_symbol_count and mb_symbol_name list the mlx-c symbols of struct mb_api. */
int mb_symbol_count(void);
const char *mb_symbol_name(int i);

/* mb_bind resolves every symbol from the dlopen handle into mb. It returns
 * NULL, or the name of the first symbol that is missing. */
const char *mb_bind(void *dl);

/* mb_dlopen, mb_dlsym and mb_dlclose wrap dlfcn; *err gets a malloc'ed
 * copy of dlerror's text when dlopen fails. */
void *mb_dlopen(const char *path, char **err);
void *mb_dlsym(void *dl, const char *name);
int mb_dlclose(void *dl);

/* mb_install_error_handler makes mlx-c report errors to mb_take_error
 * instead of printing them and exiting the process. set_handler is the
 * resolved mlx_set_error_handler. */
void mb_install_error_handler(void *set_handler);

/* mb_take_error returns (malloc'ed) and clears the last MLX error message of
 * the calling OS thread, or NULL. */
char *mb_take_error(void);

/* mb_read_version calls mlx_version through the given pointers and returns
 * a malloc'ed copy of the answer, or NULL. */
char *mb_read_version(void *string_new, void *version, void *string_data,
		      void *string_free);

/* mb_metal_is_available calls the resolved mlx_metal_is_available. */
int mb_metal_is_available(void *f, int *res);


/* Wrappers Go calls (cgo cannot call through function pointers); each is
 * the mlx-c function of the same name without the "mlx_" prefix. */
mb_stream mb_default_cpu_stream_new(void);
mb_stream mb_default_gpu_stream_new(void);
int mb_stream_free(mb_stream s);
int mb_synchronize(mb_stream s);
int mb_set_memory_limit(size_t *res, size_t limit);
int mb_set_cache_limit(size_t *res, size_t limit);
int mb_get_active_memory(size_t *res);
int mb_get_cache_memory(size_t *res);
int mb_get_peak_memory(size_t *res);
int mb_clear_cache(void);
mb_array mb_array_new(void);
mb_array mb_array_new_data(const void *data, const int *shape, int dim, int dtype);
int mb_add(mb_array *res, mb_array a, mb_array b, mb_stream s);
int mb_multiply(mb_array *res, mb_array a, mb_array b, mb_stream s);
int mb_softmax_axis(mb_array *res, mb_array a, int axis, bool precise, mb_stream s);
int mb_reshape(mb_array *res, mb_array a, const int *shape, size_t n, mb_stream s);
int mb_slice(mb_array *res, mb_array a, const int *start, const int *stop, const int *strides, size_t n, mb_stream s);
int mb_astype(mb_array *res, mb_array a, int dtype, mb_stream s);
int mb_matmul_t(mb_array *res, mb_array x, mb_array w, mb_stream s);
int mb_take_axis(mb_array *res, mb_array a, mb_array idx, int axis, mb_stream s);
int mb_quantized_matmul(mb_array *res, mb_array x, mb_array w, mb_array scales, mb_array biases, int group, int bits, mb_stream s);
int mb_dequantize(mb_array *res, mb_array w, mb_array scales, mb_array biases, int group, int bits, mb_stream s);
/* (mb_quantized_matmul and mb_dequantize use mode "mxfp4" when biases is unset: issue 16.) */
int mb_fast_rms_norm(mb_array *res, mb_array x, mb_array w, float eps, mb_stream s);

/* mb_load_file reads the header of a safetensors file into *res: its
 * tensors as arrays MLX reads from the file when they are evaluated. */
int mb_load_file(mb_map_string_to_array *res, const char *path, mb_stream s);
/* mb_map_get returns the file's tensor name (2 when there is none). */
int mb_map_get(mb_array *res, mb_map_string_to_array m, const char *name);
/* mb_map_free frees a map when it is set. */
void mb_map_free(mb_map_string_to_array m);
/* mb_array_dtype and mb_array_dims describe an array. */
int mb_array_dtype(mb_array a);
int mb_array_dims(mb_array a, int *dims, int max);

/* mb_free frees a handle when it is set. */
void mb_free(mb_array a);

/* mb_rope rotates x (n × heads*dims, token-major) as MLX's fast rope on
 * each dims-wide head, row i at position offset+i, with the given
 * frequencies (1/inv_freq of each pair). */
int mb_rope(mb_array *res, mb_array x, int heads, int dims, mb_array freqs,
	    int offset, mb_stream s);

/* mb_kv_store writes k or v (n × kv_heads*head_dim) into cache
 * ([1, kv_heads, cap, head_dim] of the given mlx_dtype; slice_update
 * rounds x to it) at positions offset..offset+n-1, growing the cache (to
 * grow_to positions, from nothing when cache->ctx is NULL) first when
 * grow_to > 0. The new cache replaces *cache; the old handle is freed. */
int mb_kv_store(mb_array *cache, mb_array x, int kv_heads, int head_dim,
		int offset, int grow_to, int dtype, mb_stream s);

/* mb_kv_copy makes *res (from mb_array_new) a new [1, kv_heads, n,
 * head_dim] array holding positions 0..n-1 (n > 0) of cache, in memory of
 * its own (not a view of cache's), and evaluates it: from then on the two
 * are independent and cache may be freed. */
int mb_kv_copy(mb_array *res, mb_array cache, int n, mb_stream s);

/* mb_attention computes attention of q (n × heads*head_dim, query i at
 * position offset+i) over the cached positions first..offset+n-1,
 * token-major result: causal, or as the boolean mask ([n, offset+n-first],
 * true where query i sees a key) says when mask.ctx is set; sinks (a
 * [heads] logit per query head that joins the softmax and carries no
 * value) when sinks.ctx is set. */
int mb_attention(mb_array *res, mb_array q, mb_array kcache, mb_array vcache,
		 int heads, int head_dim, int first, int offset, float scale,
		 mb_array mask, mb_array sinks, mb_stream s);

/* mb_silu is x*sigmoid(x). */
int mb_silu(mb_array *res, mb_array x, mb_stream s);

/* mb_read makes x contiguous float32, evaluates it and copies n values. */
int mb_read(mb_array x, float *dst, size_t n, mb_stream s);

/* mb_argmax evaluates the argmax of each row of the 2-D x into dst. */
int mb_argmax(mb_array x, int64_t *dst, size_t rows, mb_stream s);

/* mb_eval1 evaluates one array. */
int mb_eval1(mb_array x);


/* Added for gemma3 (issue 16). */

/* mb_scale is x*s. */
int mb_scale(mb_array *res, mb_array x, float s, mb_stream st);
/* mb_tanh is tanh(x). */
int mb_tanh(mb_array *res, mb_array x, mb_stream s);
/* mb_gelu_tanh is 0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3))). */
int mb_gelu_tanh(mb_array *res, mb_array x, mb_stream s);
/* mb_rope_partial rotates the first dims values of each head_dim-wide head
 * of x (n x heads*head_dim, token-major) as MLX's fast rope does, row i at
 * position offset+i, and leaves the other values as they are. */
int mb_rope_partial(mb_array *res, mb_array x, int heads, int head_dim, int dims,
		    mb_array freqs, int offset, mb_stream s);

/* Added for mixture-of-experts (issue 16). */

/* MB_UINT8 is mlx_dtype's uint8: mxfp4 scales. */
enum { MB_UINT8 = 1 };

/* Expert weight formats of struct mb_experts. */
enum { MB_EXPERTS_DENSE = 0, MB_EXPERTS_AFFINE = 1, MB_EXPERTS_MXFP4 = 2 };

/* mb_experts is one projection of a layer's experts: w is [experts, rows,
 * cols] float32 (dense) or packed uint32 words with scales (and, for
 * affine, biases) per group; bias, when set, is the [experts, rows]
 * additive bias. */
struct mb_experts {
	mb_array w, scales, biases, bias;
	int mode, group, bits;
};

/* mb_moe is tensor.MoE: softmax of the router logits (n × experts), the
 * top k by argpartition, their weights (renormalized when normalize), the
 * chosen experts' gate/up/down through gather_qmm (gather_mm when dense)
 * as mlx-lm's SwitchGLU, activation act (0 SwiGLU, 1 gpt-oss's clamped
 * SwiGLU with alpha and limit), and the weighted sum: n × hidden. From 64
 * (token, expert) pairs on, the pairs are sorted by expert first (mlx-lm's
 * _gather_sort) so that each expert's weights are read once per run.
 * Nothing is evaluated. */
int mb_moe(mb_array *res, mb_array x, mb_array logits, const struct mb_experts *gate,
	   const struct mb_experts *up, const struct mb_experts *down, int k,
	   bool normalize, int act, float alpha, float limit, mb_stream s);

#endif
