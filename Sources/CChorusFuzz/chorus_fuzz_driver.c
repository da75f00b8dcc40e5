// Declarations only (include/chorus_fuzz_driver.h): the fuzzer runtime defines them.
#include "chorus_fuzz_driver.h"
