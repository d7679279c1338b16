/* im2col/col2im and the geometry of one 2-D convolution (private to src/kernels). */
#ifndef SN_IM2COL_H
#define SN_IM2COL_H

#include <stddef.h>


/* One 2-D convolution seen from the image side: an image (c, h, w) is read by a
 * kernel (kh, kw) at stride (sh, sw) with pt/pl zero rows/columns before it, giving a
 * grid of oh x ow positions. For conv2d the image is the input and the grid the
 * output; for conv2d_transpose the image is the output and the grid the input. */
typedef struct {
  int c, h, w;
  int kh, kw;
  int sh, sw;
  int pt, pl;   /* padding at the top and left; the bottom/right follow from oh, ow */
  int oh, ow;
  int flip;     /* take kernel rows and columns in reverse: true convolution */
} sn_conv_geom;

/* Rows of the column matrix: c * kh * kw. */
static inline int sn_conv_geom_rows(const sn_conv_geom *g) { return g->c * g->kh * g->kw; }
/* Columns of the column matrix: oh * ow. */
static inline int sn_conv_geom_cols(const sn_conv_geom *g) { return g->oh * g->ow; }

/* col [c*kh*kw, oh*ow] (row stride ld >= oh*ow) = the image value under kernel tap
 * (c, i, j) at each grid position, 0 in the padding. */
void sn_im2col(const sn_conv_geom *g, const float *img, float *col, int ld);
/* img [c, h, w] += every column entry scattered back to where im2col read it (the
 * adjoint of sn_im2col). */
void sn_col2im_add(const sn_conv_geom *g, const float *col, int ld, float *img);

#endif
