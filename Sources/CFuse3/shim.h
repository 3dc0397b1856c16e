// CFuse3: libfuse 3 (high-level and low-level API) for Swift.
//
// FUSE_USE_VERSION selects which API the headers expose; it must be defined
// before any fuse header. With libfuse 3.14 and API 35, several entry points
// are macros that select a versioned symbol (fuse_loop_mt -> fuse_loop_mt_32,
// fuse_session_loop_mt -> fuse_session_loop_mt_32, ...), and Swift cannot
// call a function-like macro, so the `vigie_` wrappers below do it for Swift.
// Note that 35 < FUSE_MAKE_VERSION(3, 12) == 312: API 35 uses the public
// (v1) `struct fuse_loop_config`, not the opaque fuse_loop_cfg_* object.

#ifndef VIGIE_CFUSE3_SHIM_H
#define VIGIE_CFUSE3_SHIM_H

#ifdef FUSE_USE_VERSION
#if FUSE_USE_VERSION != 35
#error "CFuse3 is written against FUSE_USE_VERSION 35"
#endif
#else
#define FUSE_USE_VERSION 35
#endif

#include <stddef.h>
#include <sys/types.h>

#include <fuse3/fuse.h>
#include <fuse3/fuse_lowlevel.h>

_Static_assert(FUSE_MAJOR_VERSION == 3, "CFuse3 needs libfuse 3");
_Static_assert(FUSE_VERSION >= FUSE_MAKE_VERSION(3, 2),
               "CFuse3 needs libfuse >= 3.2 (fuse_loop_mt with a loop config)");
// Swift sees off_t as Int64 in the fuse_operations callbacks; fuse also
// checks this, but say it here where a 32-bit build would first fail.
_Static_assert(sizeof(off_t) == 8, "CFuse3 needs a 64-bit off_t (_FILE_OFFSET_BITS=64)");

/// fuse_new() (a macro or a versioned symbol depending on the build).
static inline struct fuse *vigie_fuse_new(struct fuse_args *args,
                                          const struct fuse_operations *op,
                                          size_t op_size, void *private_data) {
  return fuse_new(args, op, op_size, private_data);
}

/// fuse_loop_mt() for API 35: fuse_loop_mt_32 with a v1 loop config (may be NULL).
static inline int vigie_fuse_loop_mt(struct fuse *f, struct fuse_loop_config *config) {
  return fuse_loop_mt(f, config);
}

/// fuse_session_new() (low level). A plain function in 3.14, wrapped so that
/// callers do not depend on that.
static inline struct fuse_session *vigie_fuse_session_new(struct fuse_args *args,
                                                          const struct fuse_lowlevel_ops *op,
                                                          size_t op_size, void *userdata) {
  return fuse_session_new(args, op, op_size, userdata);
}

/// fuse_session_loop_mt() for API 35 (a macro for fuse_session_loop_mt_32).
static inline int vigie_fuse_session_loop_mt(struct fuse_session *se,
                                             struct fuse_loop_config *config) {
  return fuse_session_loop_mt(se, config);
}

/// fuse_parse_cmdline() (a macro for the _30/_312 variants on builds without
/// versioned symbols).
static inline int vigie_fuse_parse_cmdline(struct fuse_args *args,
                                           struct fuse_cmdline_opts *opts) {
  return fuse_parse_cmdline(args, opts);
}

/// FUSE_ARGS_INIT(argc, argv).
static inline struct fuse_args vigie_fuse_args_init(int argc, char **argv) {
  struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
  return args;
}

/// sizeof(struct fuse_operations), the op_size argument of fuse_new().
static inline size_t vigie_fuse_operations_size(void) { return sizeof(struct fuse_operations); }

/// sizeof(struct fuse_lowlevel_ops), the op_size argument of fuse_session_new().
static inline size_t vigie_fuse_lowlevel_ops_size(void) {
  return sizeof(struct fuse_lowlevel_ops);
}

/// The library's runtime version, as FUSE_MAKE_VERSION(major, minor), e.g. 314.
static inline int vigie_fuse_version(void) { return fuse_version(); }

/// The headers' version (FUSE_VERSION), e.g. 314.
static inline int vigie_fuse_header_version(void) { return FUSE_VERSION; }

/// The API version these headers were compiled for (FUSE_USE_VERSION).
static inline int vigie_fuse_use_version(void) { return FUSE_USE_VERSION; }

#endif /* VIGIE_CFUSE3_SHIM_H */
