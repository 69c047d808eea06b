//go:build cgo && (linux || darwin)

/*
 * mlxc.c: the symbol table of the mlx-c functions the MLX backend calls,
 * the error handler, and composite operations that keep one Go→C crossing
 * per backend operation. See mlxc.h.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "mlxc.h"

struct mb_api mb;

/* The table's fields in declaration order, with their mlx-c names. */
#define MB_SYM(field) { "mlx_" #field, (void **)&mb.field }
static const struct {
	const char *name;
	void **slot;
} mb_symbols[] = {
	MB_SYM(set_error_handler),
	MB_SYM(string_new),
	MB_SYM(string_data),
	MB_SYM(string_free),
	MB_SYM(version),
	MB_SYM(metal_is_available),
	MB_SYM(array_new),
	MB_SYM(array_free),
	MB_SYM(array_new_data),
	MB_SYM(array_ndim),
	MB_SYM(array_size),
	MB_SYM(array_dtype),
	MB_SYM(load_safetensors),
	MB_SYM(map_string_to_array_get),
	MB_SYM(map_string_to_array_free),
	MB_SYM(map_string_to_string_free),
	MB_SYM(array_shape),
	MB_SYM(array_data_float32),
	MB_SYM(array_data_uint32),
	MB_SYM(vector_array_new_data),
	MB_SYM(vector_array_free),
	MB_SYM(eval),
	MB_SYM(async_eval),
	MB_SYM(default_cpu_stream_new),
	MB_SYM(default_gpu_stream_new),
	MB_SYM(stream_free),
	MB_SYM(synchronize),
	MB_SYM(set_memory_limit),
	MB_SYM(set_cache_limit),
	MB_SYM(get_active_memory),
	MB_SYM(get_cache_memory),
	MB_SYM(get_peak_memory),
	MB_SYM(clear_cache),
	MB_SYM(add),
	MB_SYM(multiply),
	MB_SYM(sigmoid),
	MB_SYM(softmax_axis),
	MB_SYM(reshape),
	MB_SYM(transpose_axes),
	MB_SYM(slice),
	MB_SYM(slice_update),
	MB_SYM(concatenate_axis),
	MB_SYM(zeros),
	MB_SYM(argmax_axis),
	MB_SYM(astype),
	MB_SYM(contiguous),
	MB_SYM(matmul),
	MB_SYM(take_axis),
	MB_SYM(quantized_matmul),
	MB_SYM(dequantize),
	MB_SYM(fast_rms_norm),
	MB_SYM(fast_rope),
	MB_SYM(fast_scaled_dot_product_attention),
	/* Added for gemma3 (issue 16). */
	MB_SYM(tanh),
	MB_SYM(array_new_float),
	/* Added for mixture-of-experts (issue 16). */
	MB_SYM(argpartition_axis),
	MB_SYM(take_along_axis),
	MB_SYM(gather_mm),
	MB_SYM(gather_qmm),
	MB_SYM(sum_axis),
	MB_SYM(divide),
	MB_SYM(negative),
	MB_SYM(minimum),
	MB_SYM(maximum),
	MB_SYM(expand_dims),
	MB_SYM(swapaxes),
	MB_SYM(argsort_axis),
	MB_SYM(floor_divide),
	MB_SYM(array_new_int),
};
#undef MB_SYM

int mb_symbol_count(void) { return (int)(sizeof mb_symbols / sizeof mb_symbols[0]); }

const char *mb_symbol_name(int i) {
	if (i < 0 || i >= mb_symbol_count()) {
		return NULL;
	}
	return mb_symbols[i].name;
}

const char *mb_bind(void *dl) {
	for (int i = 0; i < mb_symbol_count(); i++) {
		void *p = dlsym(dl, mb_symbols[i].name);
		if (p == NULL) {
			return mb_symbols[i].name;
		}
		*mb_symbols[i].slot = p;
	}
	return NULL;
}

void *mb_dlopen(const char *path, char **err) {
	*err = NULL;
	dlerror();
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		*err = strdup(e ? e : "dlopen failed");
	}
	return h;
}

void *mb_dlsym(void *dl, const char *name) {
	dlerror();
	return dlsym(dl, name);
}

int mb_dlclose(void *dl) { return dlclose(dl); }

/* Last MLX error message of this OS thread. MLX work runs on one locked OS
 * thread, so a thread-local buffer keeps messages of different threads apart. */
static __thread char mb_last_error[1024];

static void mb_error_handler(const char *msg, void *data) {
	(void)data;
	if (msg == NULL) {
		msg = "unknown MLX error";
	}
	strncpy(mb_last_error, msg, sizeof mb_last_error - 1);
	mb_last_error[sizeof mb_last_error - 1] = '\0';
}

void mb_install_error_handler(void *set_handler) {
	((void (*)(mb_error_handler_func, void *, void (*)(void *)))set_handler)(mb_error_handler, NULL, NULL);
}

char *mb_take_error(void) {
	if (mb_last_error[0] == '\0') {
		return NULL;
	}
	char *s = strdup(mb_last_error);
	mb_last_error[0] = '\0';
	return s;
}

char *mb_read_version(void *string_new, void *version, void *string_data, void *string_free) {
	mb_string s = ((mb_string(*)(void))string_new)();
	if (((int (*)(mb_string *))version)(&s) != 0) {
		((int (*)(mb_string))string_free)(s);
		return NULL;
	}
	const char *d = ((const char *(*)(mb_string))string_data)(s);
	char *out = strdup(d ? d : "");
	((int (*)(mb_string))string_free)(s);
	return out;
}

int mb_metal_is_available(void *f, int *res) {
	bool b = false;
	int rc = ((int (*)(bool *))f)(&b);
	*res = b ? 1 : 0;
	return rc;
}

mb_stream mb_default_cpu_stream_new(void) { return mb.default_cpu_stream_new(); }
mb_stream mb_default_gpu_stream_new(void) { return mb.default_gpu_stream_new(); }
int mb_stream_free(mb_stream s) { return mb.stream_free(s); }
int mb_synchronize(mb_stream s) { return mb.synchronize(s); }
int mb_set_memory_limit(size_t *res, size_t limit) { return mb.set_memory_limit(res, limit); }
int mb_set_cache_limit(size_t *res, size_t limit) { return mb.set_cache_limit(res, limit); }
int mb_get_active_memory(size_t *res) { return mb.get_active_memory(res); }
int mb_get_cache_memory(size_t *res) { return mb.get_cache_memory(res); }
int mb_get_peak_memory(size_t *res) { return mb.get_peak_memory(res); }
int mb_clear_cache(void) { return mb.clear_cache(); }
mb_array mb_array_new(void) { return mb.array_new(); }
mb_array mb_array_new_data(const void *data, const int *shape, int dim, int dtype) {
	return mb.array_new_data(data, shape, dim, dtype);
}
int mb_add(mb_array *res, mb_array a, mb_array b, mb_stream s) { return mb.add(res, a, b, s); }
int mb_multiply(mb_array *res, mb_array a, mb_array b, mb_stream s) { return mb.multiply(res, a, b, s); }
int mb_softmax_axis(mb_array *res, mb_array a, int axis, bool precise, mb_stream s) {
	return mb.softmax_axis(res, a, axis, precise, s);
}
int mb_reshape(mb_array *res, mb_array a, const int *shape, size_t n, mb_stream s) {
	return mb.reshape(res, a, shape, n, s);
}
int mb_slice(mb_array *res, mb_array a, const int *start, const int *stop, const int *strides, size_t n, mb_stream s) {
	return mb.slice(res, a, start, n, stop, n, strides, n, s);
}
int mb_astype(mb_array *res, mb_array a, int dtype, mb_stream s) { return mb.astype(res, a, dtype, s); }

/* mb_matmul_t is x·wᵀ; the transpose is a view MLX's matmul reads in place. */
int mb_matmul_t(mb_array *res, mb_array x, mb_array w, mb_stream s) {
	int axes[2] = {1, 0};
	mb_array t = mb.array_new();
	int rc = mb.transpose_axes(&t, w, axes, 2, s);
	if (rc == 0) {
		rc = mb.matmul(res, x, t, s);
	}
	mb_free(t);
	return rc;
}
int mb_take_axis(mb_array *res, mb_array a, mb_array idx, int axis, mb_stream s) {
	return mb.take_axis(res, a, idx, axis, s);
}
int mb_quantized_matmul(mb_array *res, mb_array x, mb_array w, mb_array scales, mb_array biases, int group, int bits, mb_stream s) {
	mb_optional_int g = {group, true}, b = {bits, true};
	/* No biases: mxfp4 (issue 16). */
	return mb.quantized_matmul(res, x, w, scales, biases, true, g, b, biases.ctx ? "affine" : "mxfp4", s);
}
int mb_dequantize(mb_array *res, mb_array w, mb_array scales, mb_array biases, int group, int bits, mb_stream s) {
	mb_optional_int g = {group, true}, b = {bits, true};
	mb_optional_dtype dt = {MB_FLOAT32, true};
	mb_array none = {NULL};
	return mb.dequantize(res, w, scales, biases, g, b, biases.ctx ? "affine" : "mxfp4", none, dt, s); /* no biases: mxfp4 */
}
int mb_fast_rms_norm(mb_array *res, mb_array x, mb_array w, float eps, mb_stream s) {
	return mb.fast_rms_norm(res, x, w, eps, s);
}

int mb_load_file(mb_map_string_to_array *res, const char *path, mb_stream s) {
	mb_map_string_to_string meta = {NULL};
	int rc = mb.load_safetensors(res, &meta, path, s);
	if (meta.ctx != NULL) {
		mb.map_string_to_string_free(meta);
	}
	return rc;
}

int mb_map_get(mb_array *res, mb_map_string_to_array m, const char *name) {
	return mb.map_string_to_array_get(res, m, name);
}

void mb_map_free(mb_map_string_to_array m) {
	if (m.ctx != NULL) {
		mb.map_string_to_array_free(m);
	}
}

int mb_array_dtype(mb_array a) { return mb.array_dtype(a); }

int mb_array_dims(mb_array a, int *dims, int max) {
	int n = (int)mb.array_ndim(a);
	const int *shape = mb.array_shape(a);
	for (int i = 0; i < n && i < max; i++) {
		dims[i] = shape[i];
	}
	return n;
}

void mb_free(mb_array a) {
	if (a.ctx != NULL) {
		mb.array_free(a);
	}
}

/* tokens_to_heads views x (n × heads*dims) as [1, heads, n, dims]. */
static int tokens_to_heads(mb_array *res, mb_array x, int n, int heads, int dims, mb_stream s) {
	int shape[4] = {1, n, heads, dims};
	int axes[4] = {0, 2, 1, 3};
	mb_array r = mb.array_new();
	if (mb.reshape(&r, x, shape, 4, s) != 0) {
		mb_free(r);
		return 1;
	}
	int rc = mb.transpose_axes(res, r, axes, 4, s);
	mb_free(r);
	return rc;
}

/* heads_to_tokens turns [1, heads, n, dims] back into n × heads*dims. */
static int heads_to_tokens(mb_array *res, mb_array x, int n, int heads, int dims, mb_stream s) {
	int axes[4] = {0, 2, 1, 3};
	int shape[2] = {n, heads * dims};
	mb_array t = mb.array_new();
	if (mb.transpose_axes(&t, x, axes, 4, s) != 0) {
		mb_free(t);
		return 1;
	}
	int rc = mb.reshape(res, t, shape, 2, s);
	mb_free(t);
	return rc;
}

static int rows_of(mb_array x) { return mb.array_shape(x)[0]; }

int mb_rope(mb_array *res, mb_array x, int heads, int dims, mb_array freqs, int offset, mb_stream s) {
	int n = rows_of(x);
	mb_array h = mb.array_new(), r = mb.array_new();
	mb_optional_float no_base = {0, false};
	int rc = tokens_to_heads(&h, x, n, heads, dims, s);
	if (rc == 0) {
		rc = mb.fast_rope(&r, h, dims, false, no_base, 1.0f, offset, freqs, s);
	}
	if (rc == 0) {
		rc = heads_to_tokens(res, r, n, heads, dims, s);
	}
	mb_free(h);
	mb_free(r);
	return rc;
}

int mb_kv_store(mb_array *cache, mb_array x, int kv_heads, int head_dim, int offset, int grow_to, int dtype, mb_stream s) {
	int n = rows_of(x);
	mb_array h = mb.array_new(), grown = mb.array_new(), updated = mb.array_new();
	int rc = tokens_to_heads(&h, x, n, kv_heads, head_dim, s);
	mb_array c = *cache;
	int cap = c.ctx == NULL ? 0 : mb.array_shape(c)[2];
	if (rc == 0 && grow_to > cap) {
		int shape[4] = {1, kv_heads, grow_to - cap, head_dim};
		if (cap == 0) {
			rc = mb.zeros(&grown, shape, 4, dtype, s);
		} else {
			mb_array z = mb.array_new();
			rc = mb.zeros(&z, shape, 4, dtype, s);
			if (rc == 0) {
				mb_array parts[2] = {c, z};
				mb_vector_array v = mb.vector_array_new_data(parts, 2);
				rc = mb.concatenate_axis(&grown, v, 2, s);
				mb.vector_array_free(v);
			}
			mb_free(z);
		}
		c = grown;
	}
	if (rc == 0) {
		int start[4] = {0, 0, offset, 0};
		int stop[4] = {1, kv_heads, offset + n, head_dim};
		int strides[4] = {1, 1, 1, 1};
		rc = mb.slice_update(&updated, c, h, start, 4, stop, 4, strides, 4, s);
	}
	mb_free(h);
	mb_free(grown);
	if (rc != 0) {
		mb_free(updated);
		return 1;
	}
	mb_free(*cache);
	*cache = updated;
	return 0;
}

int mb_kv_copy(mb_array *res, mb_array cache, int n, mb_stream s) {
	const int *shape = mb.array_shape(cache);
	int start[4] = {0, 0, 0, 0};
	int stop[4] = {1, shape[1], n, shape[3]};
	int strides[4] = {1, 1, 1, 1};
	mb_array part = mb.array_new(), one32 = mb.array_new_float(1.0f), one = mb.array_new();
	/* A slice is a view of cache's buffer, and so is everything MLX
	 * builds from it without computing: contiguous (when the slice is
	 * contiguous: one head, or n = cap), astype to its own type, and a
	 * slice_update of a whole array, which returns the update. A product
	 * by one (exact, -0 and NaN included) is computed into a buffer of n
	 * positions: cache, still alive, keeps the input from being donated. */
	int rc = mb.slice(&part, cache, start, 4, stop, 4, strides, 4, s);
	if (rc == 0) {
		rc = mb.astype(&one, one32, mb.array_dtype(cache), s);
	}
	if (rc == 0) {
		rc = mb.multiply(res, part, one, s);
	}
	if (rc == 0) {
		rc = mb_eval1(*res);
	}
	mb_free(part);
	mb_free(one32);
	mb_free(one);
	return rc;
}

int mb_attention(mb_array *res, mb_array q, mb_array kcache, mb_array vcache, int heads, int head_dim, int first, int offset, float scale, mb_array mask, mb_array sinks, mb_stream s) {
	int n = rows_of(q);
	int kv_heads = mb.array_shape(kcache)[1];
	int start[4] = {0, 0, first, 0};
	int stop[4] = {1, kv_heads, offset + n, head_dim};
	int strides[4] = {1, 1, 1, 1};
	mb_array qh = mb.array_new(), k = mb.array_new(), v = mb.array_new(), o = mb.array_new();
	int rc = tokens_to_heads(&qh, q, n, heads, head_dim, s);
	if (rc == 0) {
		rc = mb.slice(&k, kcache, start, 4, stop, 4, strides, 4, s);
	}
	if (rc == 0) {
		rc = mb.slice(&v, vcache, start, 4, stop, 4, strides, 4, s);
	}
	if (rc == 0) {
		/* Without a mask, MLX's causal mode aligns the last query with the
		 * last key, which is query i at position offset+i over keys
		 * first..offset+n-1. MLX computes in the type q, k and v promote
		 * to: float32, whatever the cache stores. */
		const char *mode = mask.ctx != NULL ? "array" : n > 1 ? "causal" : "";
		rc = mb.fast_scaled_dot_product_attention(&o, qh, k, v, scale, mode, mask, sinks, s);
	}
	if (rc == 0) {
		rc = heads_to_tokens(res, o, n, heads, head_dim, s);
	}
	mb_free(qh);
	mb_free(k);
	mb_free(v);
	mb_free(o);
	return rc;
}

int mb_silu(mb_array *res, mb_array x, mb_stream s) {
	mb_array sg = mb.array_new();
	int rc = mb.sigmoid(&sg, x, s);
	if (rc == 0) {
		rc = mb.multiply(res, x, sg, s);
	}
	mb_free(sg);
	return rc;
}

int mb_eval1(mb_array x) {
	mb_vector_array v = mb.vector_array_new_data(&x, 1);
	int rc = mb.eval(v);
	mb.vector_array_free(v);
	return rc;
}

int mb_read(mb_array x, float *dst, size_t n, mb_stream s) {
	mb_array c = mb.array_new();
	int rc = mb.contiguous(&c, x, false, s);
	if (rc == 0) {
		rc = mb_eval1(c);
	}
	if (rc == 0) {
		const float *p = mb.array_data_float32(c);
		if (p == NULL || mb.array_size(c) != n) {
			rc = 1;
		} else {
			memcpy(dst, p, n * sizeof *dst);
		}
	}
	mb_free(c);
	return rc;
}

int mb_argmax(mb_array x, int64_t *dst, size_t rows, mb_stream s) {
	mb_array a = mb.array_new(), c = mb.array_new();
	int rc = mb.argmax_axis(&a, x, 1, false, s);
	if (rc == 0) {
		rc = mb.contiguous(&c, a, false, s);
	}
	if (rc == 0) {
		rc = mb_eval1(c);
	}
	if (rc == 0) {
		const uint32_t *p = mb.array_data_uint32(c);
		if (p == NULL) {
			rc = 1;
		} else {
			for (size_t i = 0; i < rows; i++) {
				dst[i] = (int64_t)p[i];
			}
		}
	}
	mb_free(a);
	mb_free(c);
	return rc;
}

/* Added for gemma3 (issue 16). */

int mb_scale(mb_array *res, mb_array x, float s, mb_stream st) {
	mb_array c = mb.array_new_float(s);
	int rc = mb.multiply(res, x, c, st);
	mb_free(c);
	return rc;
}

int mb_tanh(mb_array *res, mb_array x, mb_stream s) { return mb.tanh(res, x, s); }

/* mb_gelu_tanh is mlx.nn's gelu_approx, step by step. */
int mb_gelu_tanh(mb_array *res, mb_array x, mb_stream s) {
	mb_array k = mb.array_new_float(0.044715f), c = mb.array_new_float(0.7978845608028654f);
	mb_array half = mb.array_new_float(0.5f), one = mb.array_new_float(1.0f);
	mb_array t[8];
	for (int i = 0; i < 8; i++) {
		t[i] = mb.array_new();
	}
	int rc = mb.multiply(&t[0], x, x, s);              /* x^2 */
	rc = rc ? rc : mb.multiply(&t[1], t[0], x, s);     /* x^3 */
	rc = rc ? rc : mb.multiply(&t[2], t[1], k, s);     /* 0.044715 x^3 */
	rc = rc ? rc : mb.add(&t[3], x, t[2], s);          /* x + 0.044715 x^3 */
	rc = rc ? rc : mb.multiply(&t[4], t[3], c, s);     /* sqrt(2/pi)(...) */
	rc = rc ? rc : mb.tanh(&t[5], t[4], s);
	rc = rc ? rc : mb.add(&t[6], t[5], one, s);        /* 1 + tanh(...) */
	rc = rc ? rc : mb.multiply(&t[7], x, half, s);     /* 0.5 x */
	rc = rc ? rc : mb.multiply(res, t[7], t[6], s);
	for (int i = 0; i < 8; i++) {
		mb_free(t[i]);
	}
	mb_free(k);
	mb_free(c);
	mb_free(half);
	mb_free(one);
	return rc;
}

int mb_rope_partial(mb_array *res, mb_array x, int heads, int head_dim, int dims, mb_array freqs, int offset, mb_stream s) {
	int n = rows_of(x);
	mb_array h = mb.array_new(), r = mb.array_new();
	mb_optional_float no_base = {0, false};
	int rc = tokens_to_heads(&h, x, n, heads, head_dim, s);
	if (rc == 0) {
		rc = mb.fast_rope(&r, h, dims, false, no_base, 1.0f, offset, freqs, s);
	}
	if (rc == 0) {
		rc = heads_to_tokens(res, r, n, heads, head_dim, s);
	}
	mb_free(h);
	mb_free(r);
	return rc;
}

/* Added for mixture-of-experts (issue 16). */

/* moe_set replaces *dst by v (freeing the old handle); v's handle moves. */
static void moe_set(mb_array *dst, mb_array *v) {
	mb_free(*dst);
	*dst = *v;
	v->ctx = NULL;
}

/* moe_project is x·W_eᵀ (+ bias_e) for the experts inds picks: x is
 * [n, k or 1, 1, cols] with inds [n, k], or [m, 1, cols] with inds [m]
 * (sorted when sorted is set); the result has rows in place of cols. */
static int moe_project(mb_array *res, mb_array x, const struct mb_experts *e, mb_array inds, bool sorted, mb_stream s) {
	mb_array none = {NULL}, t = mb.array_new(), t2 = mb.array_new(), sum = mb.array_new();
	int rc;
	if (e->mode == MB_EXPERTS_DENSE) {
		rc = mb.swapaxes(&t, e->w, -1, -2, s);
		if (rc == 0) {
			rc = mb.gather_mm(res, x, t, none, inds, sorted, s);
		}
	} else {
		mb_optional_int g = {e->group, true}, b = {e->bits, true};
		bool affine = e->mode == MB_EXPERTS_AFFINE;
		rc = mb.gather_qmm(res, x, e->w, e->scales, affine ? e->biases : none, none, inds, true, g, b,
				   affine ? "affine" : "mxfp4", sorted, s);
	}
	if (rc == 0 && e->bias.ctx != NULL) {
		mb_free(t);
		t = mb.array_new();
		rc = mb.take_axis(&t, e->bias, inds, 0, s); /* [n, k, rows] */
		if (rc == 0) {
			rc = mb.expand_dims(&t2, t, -2, s);
		}
		if (rc == 0) {
			rc = mb.add(&sum, *res, t2, s);
		}
		if (rc == 0) {
			moe_set(res, &sum);
		}
	}
	mb_free(t);
	mb_free(t2);
	mb_free(sum);
	return rc;
}

/* moe_activate is silu(g)·u, or gpt-oss's min(g, limit)·sigmoid(alpha·min(g,
 * limit))·(clip(u, −limit, limit)+1). */
static int moe_activate(mb_array *res, mb_array g, mb_array u, int act, float alpha, float limit, mb_stream s) {
	if (act == 0) {
		mb_array sg = mb.array_new();
		int rc = mb_silu(&sg, g, s);
		if (rc == 0) {
			rc = mb.multiply(res, sg, u, s);
		}
		mb_free(sg);
		return rc;
	}
	mb_array lim = mb.array_new_float(limit), nlim = mb.array_new_float(-limit);
	mb_array al = mb.array_new_float(alpha), one = mb.array_new_float(1);
	mb_array gc = mb.array_new(), uc = mb.array_new(), uc2 = mb.array_new(), ag = mb.array_new();
	mb_array sg = mb.array_new(), glu = mb.array_new(), u1 = mb.array_new();
	int rc = mb.minimum(&gc, g, lim, s);
	if (rc == 0) rc = mb.minimum(&uc, u, lim, s);
	if (rc == 0) rc = mb.maximum(&uc2, uc, nlim, s);
	if (rc == 0) rc = mb.multiply(&ag, gc, al, s);
	if (rc == 0) rc = mb.sigmoid(&sg, ag, s);
	if (rc == 0) rc = mb.multiply(&glu, gc, sg, s);
	if (rc == 0) rc = mb.add(&u1, uc2, one, s);
	if (rc == 0) rc = mb.multiply(res, glu, u1, s);
	mb_array all[] = {lim, nlim, al, one, gc, uc, uc2, ag, sg, glu, u1};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		mb_free(all[i]);
	}
	return rc;
}

/* moe_route returns the top-k expert indices [n, k] (uint32) and their
 * weights [n, k, 1]. */
static int moe_route(mb_array *inds, mb_array *weights, mb_array logits, int k, bool normalize, mb_stream s) {
	int n = mb.array_shape(logits)[0];
	mb_array probs = mb.array_new(), neg = mb.array_new(), part = mb.array_new();
	mb_array sc = mb.array_new(), tot = mb.array_new(), q = mb.array_new();
	int start[2] = {0, 0}, stop[2] = {n, k}, strides[2] = {1, 1};
	int rc = mb.softmax_axis(&probs, logits, -1, true, s);
	if (rc == 0) rc = mb.negative(&neg, probs, s);
	if (rc == 0) rc = mb.argpartition_axis(&part, neg, k - 1, -1, s);
	if (rc == 0) rc = mb.slice(inds, part, start, 2, stop, 2, strides, 2, s);
	if (rc == 0) rc = mb.take_along_axis(&sc, probs, *inds, -1, s);
	if (rc == 0 && normalize) {
		rc = mb.sum_axis(&tot, sc, -1, true, s);
		if (rc == 0) rc = mb.divide(&q, sc, tot, s);
		if (rc == 0) moe_set(&sc, &q);
	}
	if (rc == 0) rc = mb.expand_dims(weights, sc, -1, s);
	mb_array all[] = {probs, neg, part, sc, tot, q};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		mb_free(all[i]);
	}
	return rc;
}

/* moe_mlp runs the chosen experts: y is [n, k, 1, d]. */
static int moe_mlp(mb_array *y, mb_array x, mb_array inds, const struct mb_experts *gate,
		   const struct mb_experts *up, const struct mb_experts *down, int n, int k, int d,
		   int act, float alpha, float limit, mb_stream s) {
	int xshape[4] = {n, 1, 1, d};
	mb_array xe = mb.array_new(), g = mb.array_new(), u = mb.array_new(), h = mb.array_new();
	int rc = mb.reshape(&xe, x, xshape, 4, s);
	if (rc == 0) rc = moe_project(&g, xe, gate, inds, false, s);
	if (rc == 0) rc = moe_project(&u, xe, up, inds, false, s);
	if (rc == 0) rc = moe_activate(&h, g, u, act, alpha, limit, s);
	if (rc == 0) rc = moe_project(y, h, down, inds, false, s);
	mb_array all[] = {xe, g, u, h};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		mb_free(all[i]);
	}
	return rc;
}

/* moe_mlp_sorted is moe_mlp on the n·k (token, expert) pairs sorted by
 * expert: x's rows are gathered in that order, the experts run with
 * sorted indices, and the results are put back in (token, choice) order. */
static int moe_mlp_sorted(mb_array *y, mb_array x, mb_array inds, const struct mb_experts *gate,
			  const struct mb_experts *up, const struct mb_experts *down, int n, int k, int d,
			  int act, float alpha, float limit, mb_stream s) {
	int flat_shape[1] = {n * k}, x3[3] = {n, 1, d}, y4[4] = {n, k, 1, d};
	mb_array flat = mb.array_new(), order = mb.array_new(), inv = mb.array_new(), kk = mb.array_new_int(k);
	mb_array tok = mb.array_new(), x3a = mb.array_new(), xs = mb.array_new(), idx = mb.array_new();
	mb_array g = mb.array_new(), u = mb.array_new(), h = mb.array_new(), ys = mb.array_new(), yu = mb.array_new();
	int rc = mb.reshape(&flat, inds, flat_shape, 1, s);
	if (rc == 0) rc = mb.argsort_axis(&order, flat, 0, s);
	if (rc == 0) rc = mb.argsort_axis(&inv, order, 0, s);
	if (rc == 0) rc = mb.floor_divide(&tok, order, kk, s);
	if (rc == 0) rc = mb.reshape(&x3a, x, x3, 3, s);
	if (rc == 0) rc = mb.take_axis(&xs, x3a, tok, 0, s);
	if (rc == 0) rc = mb.take_axis(&idx, flat, order, 0, s);
	if (rc == 0) rc = moe_project(&g, xs, gate, idx, true, s);
	if (rc == 0) rc = moe_project(&u, xs, up, idx, true, s);
	if (rc == 0) rc = moe_activate(&h, g, u, act, alpha, limit, s);
	if (rc == 0) rc = moe_project(&ys, h, down, idx, true, s);
	if (rc == 0) rc = mb.take_axis(&yu, ys, inv, 0, s);
	if (rc == 0) rc = mb.reshape(y, yu, y4, 4, s);
	mb_array all[] = {flat, order, inv, kk, tok, x3a, xs, idx, g, u, h, ys, yu};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		mb_free(all[i]);
	}
	return rc;
}

int mb_moe(mb_array *res, mb_array x, mb_array logits, const struct mb_experts *gate,
	   const struct mb_experts *up, const struct mb_experts *down, int k,
	   bool normalize, int act, float alpha, float limit, mb_stream s) {
	int n = mb.array_shape(x)[0], d = mb.array_shape(x)[1];
	int yshape[3] = {n, k, d};
	mb_array inds = mb.array_new(), w = mb.array_new(), y = mb.array_new();
	mb_array y3 = mb.array_new(), wy = mb.array_new();
	int rc = moe_route(&inds, &w, logits, k, normalize, s);
	if (rc == 0 && n * k >= 64) {
		rc = moe_mlp_sorted(&y, x, inds, gate, up, down, n, k, d, act, alpha, limit, s);
	} else if (rc == 0) {
		rc = moe_mlp(&y, x, inds, gate, up, down, n, k, d, act, alpha, limit, s);
	}
	if (rc == 0) rc = mb.reshape(&y3, y, yshape, 3, s);
	if (rc == 0) rc = mb.multiply(&wy, y3, w, s);
	if (rc == 0) rc = mb.sum_axis(res, wy, 1, false, s);
	mb_array all[] = {inds, w, y, y3, wy};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		mb_free(all[i]);
	}
	return rc;
}
