#include "SimfluenceKernels.h"

// IEEE arithmetic in source order: no fused multiply-add, so every instruction set gives the
// same bits.
#pragma clang fp contract(off)

#include <math.h>
#include "KernelLanes.h"

static inline long row_start(long i) { return (i * (i + 1)) >> 1; }

/// The W partial sums of a lane-vector accumulator (lane l holding the terms k = l mod W), added
/// in one fixed order. (A macro, not a function: the baseline clone has no 64-byte vector
/// registers to pass a vector in.)
#define REDUCE(c) ((((c)[0] + (c)[1]) + ((c)[2] + (c)[3])) + (((c)[4] + (c)[5]) + ((c)[6] + (c)[7])))

/// sum_{k < len} a[k] b[k]: W partial sums over k mod W for k below len rounded down to a
/// multiple of W, reduced, then the remaining terms in order. The order depends only on `len`.
static inline __attribute__((always_inline)) double dot(const double *a, const double *b, long len) {
    lanes c = {0};
    long k = 0;
    for (; k + W <= len; k += W) c += LOAD(a + k) * LOAD(b + k);
    double s = REDUCE(c);
    for (; k < len; k++) s += a[k] * b[k];
    return s;
}

/// Completes L[r, j..<j+4] of row r from its prefix dot products s (over k < j, j a multiple of
/// 4, summed as `dot` sums them): adds the triangular tail in order and divides by the diagonal,
/// so that every element is exactly (r[j] - dot(r, row j, j)) * inv[j], however it is reached.
static inline __attribute__((always_inline))
void finish4(double *r, const double s[4], const double *b1, const double *b2, const double *b3,
             const double *inv, long j) {
    double x0 = (r[j] - s[0]) * inv[j];
    r[j] = x0;
    double x1 = (r[j + 1] - (s[1] + x0 * b1[j])) * inv[j + 1];
    r[j + 1] = x1;
    double x2 = (r[j + 2] - ((s[2] + x0 * b2[j]) + x1 * b2[j + 1])) * inv[j + 2];
    r[j + 2] = x2;
    double x3 = (r[j + 3] - (((s[3] + x0 * b3[j]) + x1 * b3[j + 1]) + x2 * b3[j + 2])) * inv[j + 3];
    r[j + 3] = x3;
}

/// Prefix dot products (k < len, len a multiple of 4) of rows a0 and a1 with rows b0..b3, each
/// summed exactly as `dot` sums it.
static inline __attribute__((always_inline))
void kernel2x4(const double *a0, const double *a1, const double *b0, const double *b1, const double *b2,
               const double *b3, long len, double s0[4], double s1[4]) {
    lanes c00 = {0}, c01 = {0}, c02 = {0}, c03 = {0}, c10 = {0}, c11 = {0}, c12 = {0}, c13 = {0};
    long k = 0;
    for (; k + W <= len; k += W) {
        lanes x0 = LOAD(a0 + k), x1 = LOAD(a1 + k);
        lanes y0 = LOAD(b0 + k), y1 = LOAD(b1 + k), y2 = LOAD(b2 + k), y3 = LOAD(b3 + k);
        c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
        c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
    }
    s0[0] = REDUCE(c00); s0[1] = REDUCE(c01); s0[2] = REDUCE(c02); s0[3] = REDUCE(c03);
    s1[0] = REDUCE(c10); s1[1] = REDUCE(c11); s1[2] = REDUCE(c12); s1[3] = REDUCE(c13);
    for (; k < len; k++) {
        s0[0] += a0[k] * b0[k]; s0[1] += a0[k] * b1[k]; s0[2] += a0[k] * b2[k]; s0[3] += a0[k] * b3[k];
        s1[0] += a1[k] * b0[k]; s1[1] += a1[k] * b1[k]; s1[2] += a1[k] * b2[k]; s1[3] += a1[k] * b3[k];
    }
}

/// The same for four rows a0..a3 (16 accumulators: 4 x 4 lane vectors, in registers with
/// AVX-512; about 10% slower than two `kernel2x4` calls where only AVX2's 16 are there, 1.4x
/// faster with AVX-512), each element summed exactly as `dot` sums it.
static inline __attribute__((always_inline))
void kernel4x4(const double *a0, const double *a1, const double *a2, const double *a3,
               const double *b0, const double *b1, const double *b2, const double *b3, long len, double s[4][4]) {
    lanes c[4][4];
    for (int u = 0; u < 4; u++) for (int v = 0; v < 4; v++) c[u][v] = (lanes){0};
    long k = 0;
    for (; k + W <= len; k += W) {
        lanes y0 = LOAD(b0 + k), y1 = LOAD(b1 + k), y2 = LOAD(b2 + k), y3 = LOAD(b3 + k);
        lanes x;
        x = LOAD(a0 + k); c[0][0] += x * y0; c[0][1] += x * y1; c[0][2] += x * y2; c[0][3] += x * y3;
        x = LOAD(a1 + k); c[1][0] += x * y0; c[1][1] += x * y1; c[1][2] += x * y2; c[1][3] += x * y3;
        x = LOAD(a2 + k); c[2][0] += x * y0; c[2][1] += x * y1; c[2][2] += x * y2; c[2][3] += x * y3;
        x = LOAD(a3 + k); c[3][0] += x * y0; c[3][1] += x * y1; c[3][2] += x * y2; c[3][3] += x * y3;
    }
    const double *a[4] = {a0, a1, a2, a3};
    for (int u = 0; u < 4; u++) {
        s[u][0] = REDUCE(c[u][0]); s[u][1] = REDUCE(c[u][1]); s[u][2] = REDUCE(c[u][2]); s[u][3] = REDUCE(c[u][3]);
    }
    for (; k < len; k++) {
        for (int u = 0; u < 4; u++) {
            s[u][0] += a[u][k] * b0[k]; s[u][1] += a[u][k] * b1[k]; s[u][2] += a[u][k] * b2[k]; s[u][3] += a[u][k] * b3[k];
        }
    }
}

MULTIVERSION
void sf_packed_cholesky_rows(double *p, long i0, long begin, long end, const double *inv) {
    // Columns of whole blocks of four below the panel: every row against the same four finished
    // rows, four rows at a time (then two, then one).
    long jb = i0 & ~3L;
    for (long j = 0; j < jb; j += 4) {
        const double *b0 = p + row_start(j), *b1 = p + row_start(j + 1);
        const double *b2 = p + row_start(j + 2), *b3 = p + row_start(j + 3);
        long i = begin;
        double s0[4], s1[4], s4[4][4];
        for (; i + 3 < end; i += 4) {
            double *r0 = p + row_start(i), *r1 = p + row_start(i + 1), *r2 = p + row_start(i + 2), *r3 = p + row_start(i + 3);
            kernel4x4(r0, r1, r2, r3, b0, b1, b2, b3, j, s4);
            finish4(r0, s4[0], b1, b2, b3, inv, j);
            finish4(r1, s4[1], b1, b2, b3, inv, j);
            finish4(r2, s4[2], b1, b2, b3, inv, j);
            finish4(r3, s4[3], b1, b2, b3, inv, j);
        }
        for (; i + 1 < end; i += 2) {
            double *r0 = p + row_start(i), *r1 = p + row_start(i + 1);
            kernel2x4(r0, r1, b0, b1, b2, b3, j, s0, s1);
            finish4(r0, s0, b1, b2, b3, inv, j);
            finish4(r1, s1, b1, b2, b3, inv, j);
        }
        if (i < end) {
            double *r0 = p + row_start(i);
            kernel2x4(r0, r0, b0, b1, b2, b3, j, s0, s1);
            finish4(r0, s0, b1, b2, b3, inv, j);
        }
    }
}

MULTIVERSION
long sf_packed_cholesky_finish(double *p, long i0, long i1, double pivot_tolerance, double *inv) {
    long jb = i0 & ~3L;
    for (long i = i0; i < i1; i++) {
        double *r = p + row_start(i);
        for (long j = jb; j < i; j++) r[j] = (r[j] - dot(r, p + row_start(j), j)) * inv[j];
        double a = r[i], d = a - dot(r, r, i);
        if (!(a > 0) || !(d > pivot_tolerance * a) || !isfinite(d)) return i;
        r[i] = sqrt(d);
        inv[i] = 1 / r[i];
    }
    return -1;
}

/// Up to this many right-hand sides share one pass over the factor (four lane vectors: x is 256
/// bytes per unknown, 1.3 MB at 5,000 unknowns, so it stays in cache while the factor streams).
#define RHS_BLOCK (4 * W)

/// Forward and backward substitution for the `w` (<= RHS_BLOCK) right-hand sides at x, rows
/// `stride` doubles apart: whole lane vectors of them lane-wise, the rest one by one, with the
/// same operations per right-hand side either way (two partial sums over even and odd k in the
/// forward pass, added last).
static inline __attribute__((always_inline)) void solve_chunk(const double *p, long n, double *x, long stride, long w) {
    long vectors = w / W, rest = w - vectors * W;
    for (long i = 0; i < n; i++) {
        const double *r = p + row_start(i);
        for (long v = 0; v < vectors; v++) {
            double *xv = x + W * v;
            lanes even = {0}, odd = {0};
            long k = 0;
            for (; k + 2 <= i; k += 2) {
                even += r[k] * LOAD(xv + stride * k);
                odd += r[k + 1] * LOAD(xv + stride * (k + 1));
            }
            if (k < i) even += r[k] * LOAD(xv + stride * k);
            STORE(xv + stride * i, (LOAD(xv + stride * i) - (even + odd)) / r[i]);
        }
        if (rest) {
            double *xr = x + W * vectors;
            double even[W] = {0}, odd[W] = {0};
            long k = 0;
            for (; k + 2 <= i; k += 2) {
                const double *x0 = xr + k * stride, *x1 = x0 + stride;
                for (long c = 0; c < rest; c++) { even[c] += r[k] * x0[c]; odd[c] += r[k + 1] * x1[c]; }
            }
            if (k < i) {
                const double *x0 = xr + k * stride;
                for (long c = 0; c < rest; c++) even[c] += r[k] * x0[c];
            }
            double *xi = xr + i * stride;
            for (long c = 0; c < rest; c++) xi[c] = (xi[c] - (even[c] + odd[c])) / r[i];
        }
    }
    for (long i = n - 1; i >= 0; i--) {
        const double *r = p + row_start(i);
        for (long v = 0; v < vectors; v++) {
            double *xv = x + W * v;
            lanes xi = LOAD(xv + stride * i) / r[i];
            STORE(xv + stride * i, xi);
            for (long k = 0; k < i; k++) STORE(xv + stride * k, LOAD(xv + stride * k) - r[k] * xi);
        }
        if (rest) {
            double *xr = x + W * vectors, *xi = xr + i * stride;
            for (long c = 0; c < rest; c++) xi[c] /= r[i];
            for (long k = 0; k < i; k++) {
                double *xk = xr + k * stride;
                for (long c = 0; c < rest; c++) xk[c] -= r[k] * xi[c];
            }
        }
    }
}

MULTIVERSION
void sf_packed_solve(const double *p, long n, double *x, long nrhs) {
    for (long c0 = 0; c0 < nrhs; c0 += RHS_BLOCK) {
        long w = nrhs - c0 < RHS_BLOCK ? nrhs - c0 : RHS_BLOCK;
        solve_chunk(p, n, x + c0, nrhs, w);
    }
}

MULTIVERSION
void sf_packed_subtract_outer(double *p, long n, const double *x, const double *scale, long count, long begin, long end) {
    for (long i = begin; i < end; i++) {
        double *r = p + row_start(i);
        for (long s = 0; s < count; s++) {
            const double *xs = x + s * n;
            double a = xs[i] * scale[s];
            if (a == 0) continue;
            for (long j = 0; j <= i; j++) r[j] -= a * xs[j];
        }
    }
}

/// y = M x for the `w` (<= RHS_BLOCK) vectors at x (rows `stride` doubles apart, results at y with
/// the same layout): per row i, the sum over j < i of M[i, j] x_j in order, while x_i scatters
/// into y_j; then M[i, i] x_i. Lane-wise for whole lane vectors, one by one for the rest, the same
/// operations per vector either way.
static inline __attribute__((always_inline))
void symv_chunk(const double *p, long n, const double *x, double *y, long stride, long w) {
    long vectors = w / W, rest = w - vectors * W;
    for (long i = 0; i < n; i++)
        for (long c = 0; c < w; c++) y[i * stride + c] = 0;
    for (long i = 0; i < n; i++) {
        const double *r = p + row_start(i);
        for (long v = 0; v < vectors; v++) {
            const double *xv = x + W * v;
            double *yv = y + W * v;
            lanes sum = {0}, xi = LOAD(xv + stride * i);
            for (long j = 0; j < i; j++) {
                sum += r[j] * LOAD(xv + stride * j);
                STORE(yv + stride * j, LOAD(yv + stride * j) + r[j] * xi);
            }
            STORE(yv + stride * i, LOAD(yv + stride * i) + (sum + r[i] * xi));
        }
        for (long c = W * vectors; c < W * vectors + rest; c++) {
            double sum = 0, xi = x[stride * i + c];
            for (long j = 0; j < i; j++) {
                sum += r[j] * x[stride * j + c];
                y[stride * j + c] += r[j] * xi;
            }
            y[stride * i + c] += sum + r[i] * xi;
        }
    }
}

MULTIVERSION
void sf_packed_symmetric_product(const double *p, long n, const double *x, double *y, long count) {
    for (long c0 = 0; c0 < count; c0 += RHS_BLOCK) {
        long w = count - c0 < RHS_BLOCK ? count - c0 : RHS_BLOCK;
        symv_chunk(p, n, x + c0, y + c0, count, w);
    }
}
