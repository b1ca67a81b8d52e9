#ifndef SIMFLUENCE_KERNEL_LANES_H
#define SIMFLUENCE_KERNEL_LANES_H

// What every kernel file shares: the lane vector types, the instruction-set clones and the
// load/store of a lane vector. Included after SimfluenceKernels.h, with floating-point
// contraction off in the including file.

#define W SF_LANES
typedef double lanes __attribute__((vector_size(8 * W), aligned(8)));
typedef int64_t mask __attribute__((vector_size(8 * W), aligned(8)));
typedef float flanes __attribute__((vector_size(4 * W), aligned(4)));

#if defined(__linux__) && defined(__x86_64__) && defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MULTIVERSION
#endif

#define LOAD(p) (*(const lanes *)(p))
#define STORE(p, x) (*(lanes *)(p) = (x))

#endif
