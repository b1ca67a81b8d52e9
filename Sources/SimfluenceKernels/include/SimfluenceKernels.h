#ifndef SIMFLUENCE_KERNELS_H
#define SIMFLUENCE_KERNELS_H

#include <stdint.h>

/// The inner loops of the conjugate-gradient ridge solver (`IterativeRidge` in SimfluenceCore),
/// sixteen test examples at a time.
///
/// Layout: a "lane vector" is 16 consecutive doubles, one per test example of the block. Per
/// active training example i, the unknowns are two lane vectors, B_i at [32 i, 32 i + 16) and
/// A_i at [32 i + 16, 32 i + 32) of a parameter-shaped array; per design row r, losses L_{t-1}
/// are the lane vector at 16 r; the row sums of a product are two lane vectors at 32 r
/// (u_r, then L_{t-1} u_r). Preconditioner blocks are three lane vectors per example at 48 i
/// (the inverse 2 x 2 block's bb, ba and aa entries).
///
/// Arithmetic is lane-wise, in the same order for every lane and on every instruction set
/// (no floating-point contraction), so a result does not depend on which CPU features the
/// machine has: on x86-64 Linux each kernel is compiled for AVX-512, AVX2 and the baseline and
/// the loader picks one; elsewhere the baseline is used.

/// Row pass of (X^T X) v: for every row r, u_r = sum over its entries e of n_e (v_B[i_e] +
/// L_r v_A[i_e]) and ul = (u_r, L_r u_r). `count` (multiplicities n_e) may be NULL for all ones.
/// `entry_start` has rows + 1 offsets into `local` (active example per entry).
void sf_ridge_rows(long rows, const long *entry_start, const int32_t *local, const double *count,
                   const double *v, const double *lp, double *ul);

/// Column pass: out_B[i] = sum over i's appearances (row r, multiplicity n) of n u_r, plus
/// lambda v_B[i]; out_A[i] likewise with L_r u_r. A half the form does not use (`uses_b`,
/// `uses_a` zero) is set to zero. When `v_dot_out` is not NULL it receives, per lane, the dot
/// product of v and out summed over examples in index order (B before A).
void sf_ridge_columns(long m, const long *col_start, const int32_t *col_row, const double *col_count,
                      const double *ul, const double *v, double lambda, int uses_a, int uses_b,
                      double *out, double *v_dot_out);

/// One CG update: x += alpha p, r -= alpha q, z = M^-1 r (per example 2 x 2 blocks `pre`),
/// and per lane rz_out = sum r.z and rr_out = sum r.r over examples in index order.
void sf_cg_update(long m, const double *alpha, double *x, double *r, const double *p, const double *q,
                  const double *pre, double *rz_out, double *rr_out);

/// The next search direction: p = M^-1 r + beta p in lanes whose `keep` is all ones, 0 where
/// it is 0 (a converged lane stops moving).
void sf_cg_direction(long m, const double *beta, const int64_t *keep, const double *r, const double *pre,
                     double *p);

#endif
