// CUdev: libudev (device enumeration and hotplug monitoring) for Swift.
//
// libudev.h is plain functions over opaque handles; only the
// udev_list_entry_foreach macro is missing in Swift, where a loop over
// udev_list_entry_get_next does the same.

#ifndef VIGIE_CUDEV_SHIM_H
#define VIGIE_CUDEV_SHIM_H

#include <libudev.h>

#endif /* VIGIE_CUDEV_SHIM_H */
