/* fuzz.h — what every fuzz target in tests/fuzz/ defines.
 *
 * Each fuzz_NAME.c defines LLVMFuzzerTestOneInput (libFuzzer's entry point):
 * it must never crash, leak, read out of bounds or hit undefined behaviour,
 * whatever the bytes. `make fuzz` links each with libFuzzer (clang
 * -fsanitize=fuzzer,address,undefined); `make check` links each with
 * standalone.c instead and runs it over tests/data/regress/NAME/, so every
 * input that once crashed stays a test.
 */
#ifndef HOPPER_FUZZ_H
#define HOPPER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
