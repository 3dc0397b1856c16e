// CGpiod: libgpiod v1 (1.6.x) API for Swift.
//
// The v1 API is plain functions over opaque handles plus a few static inline
// helpers (gpiod_line_bulk_*), all callable from Swift. The iteration macros
// (gpiod_foreach_chip, gpiod_line_bulk_foreach_line, ...) are not; loop over
// gpiod_chip_iter_next / gpiod_line_bulk_get_line instead. libgpiod 2.x has
// a different API and is rejected at compile time.

#ifndef VIGIE_CGPIOD_SHIM_H
#define VIGIE_CGPIOD_SHIM_H

#include <gpiod.h>

#ifndef GPIOD_LINE_BULK_MAX_LINES
#error "CGpiod is written against the libgpiod v1 API (1.x); libgpiod 2 is not supported"
#endif

/// GPIOD_LINE_BULK_INITIALIZER: an empty line bulk.
static inline struct gpiod_line_bulk vigie_gpiod_line_bulk_empty(void) {
  struct gpiod_line_bulk bulk = GPIOD_LINE_BULK_INITIALIZER;
  return bulk;
}

#endif /* VIGIE_CGPIOD_SHIM_H */
