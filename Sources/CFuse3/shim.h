#pragma once
#include <fuse3/fuse.h>
