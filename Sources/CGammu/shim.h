#pragma once
#include <gammu.h>
