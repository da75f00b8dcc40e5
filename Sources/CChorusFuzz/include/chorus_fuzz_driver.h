#ifndef CHORUS_FUZZ_DRIVER_H
#define CHORUS_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (in the fuzzer runtime that -sanitize=fuzzer links): runs the fuzzing loop
/// with `callback` for every input. chorus-fuzz calls it from its own entry point, because
/// SwiftPM names an executable's entry point itself.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
