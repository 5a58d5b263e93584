// The intrinsics are static inline functions in include/Intrinsics.h; a C target needs one source file.
#include "Intrinsics.h"
