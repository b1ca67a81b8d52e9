#include "SimfluenceKernels.h"

// Lane-wise IEEE arithmetic in source order: no fused multiply-add, so every instruction set
// gives the same bits.
#pragma clang fp contract(off)

#include "KernelLanes.h"

/// Adds lane vector x to the lane vector at p.
#define ACCUMULATE(p, x) STORE(p, LOAD(p) + (x))

MULTIVERSION
void sf_extended_rows(long rows, const double *lp, const double *size, const double *carried_size, const long *knot,
                      const double *weight, long knots, int pooled, long q, const double *shared, double *ul) {
    long p = pooled ? 1 : 0;
    lanes zero = {0};
    lanes vb = pooled ? LOAD(shared) : zero, va = pooled ? LOAD(shared + W * q) : zero;
    for (long r = 0; r < rows; r++) {
        lanes hv = carried_size[r] * vb, ha = size[r] * va;
        if (knots == 1) {
            hv += LOAD(shared + W * p);
            ha += LOAD(shared + W * (q + p));
        } else if (knots > 1) {
            long k = knot[r];
            double w = weight[r];
            hv += (1 - w) * LOAD(shared + W * (p + k)) + w * LOAD(shared + W * (p + k + 1));
            ha += (1 - w) * LOAD(shared + W * (q + p + k)) + w * LOAD(shared + W * (q + p + k + 1));
        }
        lanes l = LOAD(lp + W * r);
        lanes u = LOAD(ul + 2 * W * r) + hv + l * ha;
        STORE(ul + 2 * W * r, u);
        STORE(ul + 2 * W * r + W, l * u);
    }
}

MULTIVERSION
void sf_extended_columns(long rows, const double *size, const long *knot, const double *weight, long knots, int pooled,
                         long q, double carry, const uint8_t *run_start, double *ul, double *shared_out) {
    long p = pooled ? 1 : 0;
    lanes zero = {0}, next = zero;
    for (long i = 0; i < 2 * q; i++) STORE(shared_out + W * i, zero);
    for (long r = rows - 1; r >= 0; r--) {
        lanes u = LOAD(ul + 2 * W * r), ua = LOAD(ul + 2 * W * r + W);
        if (run_start) {
            next = r + 1 < rows && !run_start[r + 1] ? u + carry * next : u;
            STORE(ul + 2 * W * r, next);
        } else {
            next = u;
        }
        if (pooled) {
            ACCUMULATE(shared_out, size[r] * next);
            ACCUMULATE(shared_out + W * q, size[r] * ua);
        }
        if (knots == 1) {
            ACCUMULATE(shared_out + W * p, u);
            ACCUMULATE(shared_out + W * (q + p), ua);
        } else if (knots > 1) {
            long k = knot[r];
            double w = weight[r];
            ACCUMULATE(shared_out + W * (p + k), (1 - w) * u);
            ACCUMULATE(shared_out + W * (p + k + 1), w * u);
            ACCUMULATE(shared_out + W * (q + p + k), (1 - w) * ua);
            ACCUMULATE(shared_out + W * (q + p + k + 1), w * ua);
        }
    }
}
