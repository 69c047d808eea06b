/*
 * mlxc.h: modelbar's own declarations of the part of the mlx-c C API that the
 * loader uses, pinned to the mlx-c 0.6.0 ABI (MLX core 0.31.x).
 *
 * Nothing here is linked: every function is reached through a pointer that
 * dlsym returned, so the binary builds and runs where libmlxc is absent.
 * The signatures were checked against the v0.6.0 tag of ml-explore/mlx-c
 * (mlx/c/string.h, version.h, error.h, metal.h, array.h, transforms.h, ops.h).
 */
#ifndef MODELBAR_MLXC_H
#define MODELBAR_MLXC_H

#include <stdbool.h>
#include <stddef.h>

/* mlx_string: an opaque handle passed by value (mlx/c/string.h). */
typedef struct mb_mlx_string {
	void *ctx;
} mb_mlx_string;

/* mlx_string mlx_string_new(void); */
typedef mb_mlx_string (*mb_mlx_string_new_fn)(void);
/* const char* mlx_string_data(mlx_string str); */
typedef const char *(*mb_mlx_string_data_fn)(mb_mlx_string);
/* int mlx_string_free(mlx_string str); */
typedef int (*mb_mlx_string_free_fn)(mb_mlx_string);
/* int mlx_version(mlx_string* str); (mlx/c/version.h) */
typedef int (*mb_mlx_version_fn)(mb_mlx_string *);
/* typedef void (*mlx_error_handler_func)(const char* msg, void* data); */
typedef void (*mb_mlx_error_handler_func)(const char *, void *);
/* void mlx_set_error_handler(mlx_error_handler_func, void* data,
 *                            void (*dtor)(void*)); (mlx/c/error.h) */
typedef void (*mb_mlx_set_error_handler_fn)(mb_mlx_error_handler_func, void *,
					    void (*)(void *));
/* int mlx_metal_is_available(bool* res); (mlx/c/metal.h) */
typedef int (*mb_mlx_metal_is_available_fn)(bool *);

#endif
