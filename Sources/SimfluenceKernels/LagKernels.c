#include "SimfluenceKernels.h"

// Lane-wise IEEE arithmetic in source order: no fused multiply-add, so every instruction set
// gives the same bits.
#pragma clang fp contract(off)

#include "KernelLanes.h"

/// *sum = the sum over e in [start, end) of weight[e] src[index[e]] (lane vectors), or of
/// src[index[e]] when `weight` is NULL (two partial sums, even and odd entries, added at the end:
/// half the dependency chain). (A pointer rather than a vector value: the baseline clone has no
/// 64-byte vector registers to return it in.)
static inline __attribute__((always_inline))
void gather_sum(long start, long end, const int32_t *index, const double *weight, const double *src, lanes *sum) {
    lanes s = {0}, t = {0};
    long e = start;
    if (weight) {
        for (; e < end; e++) s += weight[e] * LOAD(src + W * (long)index[e]);
        *sum = s;
        return;
    }
    for (; e + 1 < end; e += 2) {
        s += LOAD(src + W * (long)index[e]);
        t += LOAD(src + W * (long)index[e + 1]);
    }
    if (e < end) s += LOAD(src + W * (long)index[e]);
    *sum = s + t;
}

MULTIVERSION
void sf_lag_rows(long rows, const long *entry_start, const int32_t *local, const double *weight,
                 const double *v, double *u) {
    for (long r = 0; r < rows; r++) {
        lanes s;
        gather_sum(entry_start[r], entry_start[r + 1], local, weight, v, &s);
        STORE(u + W * r, s);
    }
}

MULTIVERSION
void sf_lag_columns(long m, const long *col_start, const int32_t *col_row, const double *col_weight,
                    const double *t, const double *v, double lambda, double *out, double *v_dot_out) {
    lanes dot = {0};
    for (long i = 0; i < m; i++) {
        lanes s;
        gather_sum(col_start[i], col_start[i + 1], col_row, col_weight, t, &s);
        if (v) {
            lanes vi = LOAD(v + W * i);
            s += lambda * vi;
            dot += vi * s;
        }
        STORE(out + W * i, s);
    }
    if (v && v_dot_out) STORE(v_dot_out, dot);
}

MULTIVERSION
void sf_lag_filter(long runs, const long *run_row, long bins, const long *starts, const double *weights,
                   const double *phi, const int64_t *group, const double *group_scale, long groups,
                   double *u, double *scratch, double *group_scratch, int mode) {
    double step[bins > 0 ? bins : 1];
    for (long b = 0; b < bins; b++) step[b] = weights[b] - (b > 0 ? weights[b - 1] : 0);
    if (mode & 1) {
        for (long k = 0; k < runs; k++) {
            long a = run_row[k], steps = run_row[k + 1] - a;
            lanes sum = {0};
            STORE(scratch, sum);
            for (long j = 0; j < steps; j++) {
                lanes x = LOAD(u + W * (a + j));
                if (phi) x = LOAD(phi + W * (a + j)) * x;
                sum += x;
                STORE(scratch + W * (j + 1), sum);
            }
            // Bin b covers the running sums' window [j - starts[b + 1] + 1, j - starts[b] + 1), so
            // x_j = sum_b step[b] P[j - starts[b] + 1], step[b] = weights[b] - weights[b - 1]
            // (P[i] = 0 for i <= 0): bin by bin, each a streaming pass (every x_j still adds its
            // terms in bin order).
            lanes zero = {0};
            for (long j = 0; j < steps; j++) STORE(u + W * (a + j), zero);
            for (long b = 0; b < bins && starts[b] < steps; b++) {
                double c = step[b];
                double *x = u + W * (a + starts[b]);
                const double *pb = scratch + W;
                for (long k = 0; k < steps - starts[b]; k++) STORE(x + W * k, LOAD(x + W * k) + c * LOAD(pb + W * k));
            }
        }
    }
    if (mode & 2) {
        lanes zero = {0};
        for (long g = 0; g < groups; g++) STORE(group_scratch + W * g, zero);
        long rows = run_row[runs];
        for (long r = 0; r < rows; r++) {
            double *g = group_scratch + W * group[r];
            STORE(g, LOAD(g) + LOAD(u + W * r));
        }
        for (long g = 0; g < groups; g++) STORE(group_scratch + W * g, group_scale[g] * LOAD(group_scratch + W * g));
        for (long r = 0; r < rows; r++) STORE(u + W * r, LOAD(u + W * r) - LOAD(group_scratch + W * group[r]));
    }
    if (mode & 4) {
        for (long k = 0; k < runs; k++) {
            long a = run_row[k], steps = run_row[k + 1] - a;
            lanes sum = {0};
            STORE(scratch + W * steps, sum);
            for (long j = steps - 1; j >= 0; j--) {
                sum += LOAD(u + W * (a + j));
                STORE(scratch + W * j, sum);
            }
            // Likewise t_j = sum_b step[b] S[j + starts[b]] (S[i] = 0 for i >= steps).
            lanes zero = {0};
            for (long j = 0; j < steps; j++) STORE(u + W * (a + j), zero);
            for (long b = 0; b < bins && starts[b] < steps; b++) {
                double c = step[b];
                double *t = u + W * a;
                const double *sb = scratch + W * starts[b];
                for (long j = 0; j < steps - starts[b]; j++) STORE(t + W * j, LOAD(t + W * j) + c * LOAD(sb + W * j));
            }
            if (phi) for (long j = 0; j < steps; j++) STORE(u + W * (a + j), LOAD(phi + W * (a + j)) * LOAD(u + W * (a + j)));
        }
    }
}
