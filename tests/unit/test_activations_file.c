/* Activation files read back with the HDF5 API: every row equals an in-process
 * batch-1 forward, attributes and image grids are there, snapshots append and
 * replace steps and leave parameters and running statistics alone. Runs as a
 * singleton MPI process (no launcher). */
#define _POSIX_C_SOURCE 200809L
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5util.h"
#include "shardnet/activations.h"
#include "shardnet/checkpoint.h"
#include "shardnet/dataset_writer.h"
#include "shardnet/memory.h"
#include "sn_test.h"

/* Every layer kind with (C, H, W) output the images cover, a batch norm whose
 * running statistics matter in inference, and a dropout that must be the identity. */
static const char config_text[] =
    "seed: 5\n"
    "data: {scale: 0.0039215686, mean: [0.4, 0.6], std: [0.25]}\n"
    "model:\n"
    "  input: [2, 6, 6]\n"
    "  layers:\n"
    "    - {type: conv2d, name: conv, filters: 5, kernel: 3, padding: same, activation: relu}\n"
    "    - {type: batchnorm2d, name: bn}\n"
    "    - {type: maxpool2d, name: pool, size: 2}\n"
    "    - {type: upsample2d, name: up, scale: 2}\n"
    "    - {type: conv2d_transpose, name: deconv, filters: 2, kernel: 3, stride: 2, padding: same}\n"
    "    - {type: flatten, name: flat}\n"
    "    - {type: dropout, name: drop, rate: 0.5}\n"
    "    - {type: dense, name: out, units: 3}\n"
    "  loss: softmax_cross_entropy\n";

enum { N = 6, H = 6, W = 6, C = 2 };

#if defined(__SANITIZE_ADDRESS__)
/* Open MPI's and HDF5's libraries have no frame pointers: the default fast unwinder
 * stops inside them, and their process-lifetime allocations then escape the
 * library suppressions of tests/lsan.supp. ASAN_OPTIONS still overrides this. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "fast_unwind_on_malloc=0"; }
#endif

static sn_dist *dist;
static char data_path[64], ckpt_path[64], out_path[64], run_path[64];
static sn_config *cfg;
static sn_net *ref;        /* the model as built in process */
static sn_dataset *ds;

/* Builds the model with moved running statistics, saves it and a small dataset. */
/* The dataset's pixels, and how they become inputs (the reference for /input). */
static unsigned char pixels[N * H * W * C];
static sn_transform tf;

static int setup(void) {
  pid_t pid = getpid();
  snprintf(data_path, sizeof data_path, "/tmp/sn-acts-data-%d.h5", (int)pid);
  snprintf(ckpt_path, sizeof ckpt_path, "/tmp/sn-acts-ckpt-%d.h5", (int)pid);
  snprintf(out_path, sizeof out_path, "/tmp/sn-acts-out-%d.h5", (int)pid);
  snprintf(run_path, sizeof run_path, "/tmp/sn-acts-run-%d.h5", (int)pid);
  if (sn_config_parse(config_text, "<test>", NULL, 0, &cfg) != SN_OK || sn_net_create(&cfg->model, &ref) != SN_OK)
    return 1;
  sn_net_init_params(ref, 11);
  for (size_t i = 0; i < ref->n_state; i++) ref->state[i] = 0.3f + 0.07f * (float)i;
  if (sn_net_reserve(ref, 4, 0) != SN_OK) return 1;
  sn_checkpoint_meta meta = {.step = 42, .seed = 5, .world_size = 1, .config_text = config_text};
  if (sn_checkpoint_write(ckpt_path, ref, NULL, &meta) != SN_OK) return 1;
  for (int i = 0; i < N * H * W * C; i++) pixels[i] = (unsigned char)((i * 37 + i / 7) % 251);
  int32_t labels[N] = {0, 1, 2, 0, 1, 2};
  sn_dataset_contents contents = {.n = N, .h = H, .w = W, .c = C, .images = pixels, .labels = labels};
  if (sn_dataset_write(data_path, &contents) != SN_OK) return 1;
  const sn_dataset_options o = {.placement = SN_PLACEMENT_AUTO};
  if (sn_dataset_open(dist, data_path, &o, &ds) != SN_OK) return 1;
  const sn_sample_format f = sn_dataset_format(ds);
  return sn_transform_init(&tf, &cfg->data, &f, 0, 1, data_path) != SN_OK;
}

static void teardown(void) {
  sn_dataset_free(ds);
  sn_net_destroy(ref);
  sn_config_free(cfg);
  unlink(data_path);
  unlink(ckpt_path);
  unlink(out_path);
  unlink(run_path);
}

/* The whole float32 dataset name of loc; its dims go to dims (rank returned). */
static float *read_all(hid_t loc, const char *name, hsize_t *dims, int *rank) {
  *rank = 0;
  hid_t set = H5Dopen2(loc, name, H5P_DEFAULT);
  if (set < 0) return NULL;
  hid_t space = H5Dget_space(set);
  *rank = H5Sget_simple_extent_ndims(space);
  H5Sget_simple_extent_dims(space, dims, NULL);
  float *v = malloc((size_t)H5Sget_simple_extent_npoints(space) * sizeof *v);
  if (v && H5Dread(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
    free(v);
    v = NULL;
  }
  H5Sclose(space);
  H5Dclose(set);
  return v;
}

/* The library closed every file, group, dataset and attribute it opened, but for
 * what the open dataset holds while it lives: its file, /images and /labels. */
static void assert_nothing_open(void) {
  CU_ASSERT_EQUAL(H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL), 3);
}

/* got equals want within rtol of |want| (0: bitwise). */
static void assert_equal_row(const float *got, const float *want, size_t n, double rtol, const char *what, int row) {
  size_t i = 0;
  while (i < n && fabs((double)got[i] - want[i]) <= rtol * fabs(want[i])) i++;
  if (i < n) fprintf(stderr, "\n  %s row %d differs at %zu: %.9g vs %.9g\n", what, row, i, got[i], want[i]);
  CU_ASSERT_EQUAL(i, n);
}

/* The image of layer l in images: an H5IM image with one palette, the grid
 * geometry of its maps, white gaps, and each map stretched over 0..255. */
static void check_image(hid_t images, const sn_layer *l) {
  const int c = l->out_shape.d[0], h = l->out_shape.d[1], w = l->out_shape.d[2];
  CU_ASSERT_EQUAL_FATAL(H5IMis_image(images, l->name), 1);
  hsize_t width = 0, height = 0, planes = 0;
  hssize_t npals = 0;
  char interlace[32];
  CU_ASSERT_FATAL(H5IMget_image_info(images, l->name, &width, &height, &planes, interlace, &npals) >= 0);
  CU_ASSERT_EQUAL(npals, 1);
  CU_ASSERT_EQUAL(planes, 1);
  const int cols = c <= 1 ? 1 : c <= 4 ? 2 : c <= 9 ? 3 : 4, rows = (c + cols - 1) / cols;
  CU_ASSERT_EQUAL_FATAL(width, (hsize_t)(cols * (w + 1) - 1));
  CU_ASSERT_EQUAL_FATAL(height, (hsize_t)(rows * (h + 1) - 1));
  unsigned char *px = malloc(width * height);
  CU_ASSERT_FATAL(H5IMread_image(images, l->name, px) >= 0);
  for (int m = 0; m < cols * rows; m++) {
    const int y0 = m / cols * (h + 1), x0 = m % cols * (w + 1);
    int lo = 255, hi = 0;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        int v = px[(size_t)(y0 + y) * width + (size_t)(x0 + x)];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
    /* A map's own range spans 0..255 unless it is constant (all 0); a cell
     * without a map is gap-coloured. */
    if (m < c) CU_ASSERT((lo == 0 && hi == 255) || (lo == 0 && hi == 0));
    if (m >= c) CU_ASSERT(lo == 255 && hi == 255);
    if (x0 + w < (int)width) CU_ASSERT_EQUAL(px[(size_t)y0 * width + (size_t)(x0 + w)], 255);
  }
  free(px);
}

/* Record loc holds rows for dataset samples idx[0..n-1]: input and every layer equal
 * a batch-1 forward of ref, with attributes; images for the (C, H, W) layers. */
static void check_record(hid_t loc, const uint32_t *idx, int n, long step) {
  long long v = -1;
  CU_ASSERT(sn_h5_read_int_attr(loc, "step", &v) == SN_OK && v == step);
  const sn_pass pass = {.training = 0};
  float *x = NULL;
  CU_ASSERT_EQUAL_FATAL(sn_alloc_floats(sn_shape_size(ref->input_shape), &x), SN_OK);
  hsize_t dims[8];
  int rank;
  float *got[16] = {NULL};
  CU_ASSERT_FATAL(ref->n_layers < 16);
  float *input = read_all(loc, "input", dims, &rank);
  CU_ASSERT_FATAL(input && rank == 4 && dims[0] == (hsize_t)n && dims[1] == C && dims[2] == H && dims[3] == W);
  for (int i = 0; i < ref->n_layers; i++) {
    const sn_layer *l = &ref->layers[i];
    got[i] = read_all(loc, l->name, dims, &rank);
    CU_ASSERT_FATAL(got[i] && rank == 1 + l->out_shape.ndim && dims[0] == (hsize_t)n);
    for (int k = 0; k < l->out_shape.ndim; k++) CU_ASSERT_EQUAL(dims[1 + k], (hsize_t)l->out_shape.d[k]);
    hid_t set = H5Dopen2(loc, l->name, H5P_DEFAULT);
    char type[32];
    CU_ASSERT(sn_h5_read_string_attr(set, "layer_type", type, sizeof type, 1) == SN_OK && !strcmp(type, l->ops->type));
    CU_ASSERT(sn_h5_read_int_attr(set, "step", &v) == SN_OK && v == step);
    H5Dclose(set);
  }
  for (int j = 0; j < n; j++) {
    sn_transform_sample(&tf, 0, idx[j], pixels + (size_t)idx[j] * H * W * C, x);
    sn_net_forward(ref, x, 1, &pass);
    const size_t in_size = sn_shape_size(ref->input_shape);
    assert_equal_row(input + (size_t)j * in_size, x, in_size, 0, "input", j);
    for (int i = 0; i < ref->n_layers; i++) {
      const size_t size = sn_shape_size(ref->layers[i].out_shape);
      /* the file's batch and this one-sample pass may run different kernels (oneDNN's
       * are made per batch size), so layers agree to float rounding, not bitwise */
      assert_equal_row(got[i] + (size_t)j * size, sn_net_layer_output(ref, i), size, 1e-5, ref->layers[i].name, j);
    }
  }
  hid_t images = H5Gopen2(loc, "images", H5P_DEFAULT);
  CU_ASSERT_FATAL(images >= 0);
  for (int i = 0; i < ref->n_layers; i++) {
    if (ref->layers[i].out_shape.ndim == 3) check_image(images, &ref->layers[i]);
    else CU_ASSERT_EQUAL(H5Lexists(images, ref->layers[i].name, H5P_DEFAULT), 0);
  }
  H5Gclose(images);
  for (int i = 0; i < ref->n_layers; i++) free(got[i]);
  free(input);
  sn_free(x);
}

static void test_file_from_checkpoint(void) {
  sn_config *loaded_cfg = NULL;
  sn_net *net = NULL;
  char resolved[SN_PATH_CAP];
  CU_ASSERT_EQUAL_FATAL(sn_checkpoint_open_model(ckpt_path, &loaded_cfg, &net, resolved), SN_OK);
  const sn_activations_source src = {.checkpoint = resolved, .step = 42};
  sn_status st = sn_activations_write(dist, net, ds, &tf, 1, 5, &src, out_path);
  if (st != SN_OK) fprintf(stderr, "\n  %s\n", sn_last_error());
  CU_ASSERT_EQUAL_FATAL(st, SN_OK);
  assert_nothing_open();
  /* Inference left the loaded running statistics as the checkpoint has them. */
  CU_ASSERT_EQUAL(memcmp(net->state, ref->state, ref->n_state * sizeof(float)), 0);
  sn_net_destroy(net);
  sn_config_free(loaded_cfg);

  hid_t file = H5Fopen(out_path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(file >= 0);
  char text[SN_PATH_CAP];
  long long v = 0;
  CU_ASSERT(sn_h5_read_string_attr(file, "format", text, sizeof text, 1) == SN_OK &&
            !strcmp(text, "shardnet-activations"));
  CU_ASSERT(sn_h5_read_int_attr(file, "format_version", &v) == SN_OK && v == 1);
  CU_ASSERT(sn_h5_read_string_attr(file, "samples", text, sizeof text, 1) == SN_OK && !strcmp(text, "1:5"));
  CU_ASSERT(sn_h5_read_string_attr(file, "checkpoint", text, sizeof text, 1) == SN_OK && !strcmp(text, ckpt_path));
  CU_ASSERT(sn_h5_read_string_attr(file, "data", text, sizeof text, 1) == SN_OK && !strcmp(text, data_path));
  const uint32_t idx[4] = {1, 2, 3, 4};
  check_record(file, idx, 4, 42);
  H5Fclose(file);
}

static void test_bad_range(void) {
  const sn_activations_source src = {.checkpoint = ckpt_path, .step = 42};
  unlink(out_path);
  CU_ASSERT_EQUAL(sn_activations_write(dist, ref, ds, &tf, 3, 3, &src, out_path), SN_ERR_INVALID);
  CU_ASSERT_EQUAL(sn_activations_write(dist, ref, ds, &tf, 0, N + 1, &src, out_path), SN_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "samples 0:7 are not a range A:B with A < B <= 6"));
  CU_ASSERT_NOT_EQUAL(access(out_path, F_OK), 0);
  assert_nothing_open();
}

static void test_snapshots(void) {
  float *params = malloc(ref->n_params * sizeof *params), *state = malloc(ref->n_state * sizeof *state);
  CU_ASSERT_FATAL(params && state);
  memcpy(params, ref->params, ref->n_params * sizeof *params);
  memcpy(state, ref->state, ref->n_state * sizeof *state);
  unlink(run_path);
  const long first[2] = {4, 0}, second[1] = {2}, again[3] = {1, 5, 0};
  CU_ASSERT_EQUAL_FATAL(sn_activations_snapshot(dist, ref, ds, &tf, first, 2, 5, run_path), SN_OK);
  CU_ASSERT_EQUAL_FATAL(sn_activations_snapshot(dist, ref, ds, &tf, second, 1, 7, run_path), SN_OK);
  /* A resumed run records step 5 again: the new record replaces the old. */
  CU_ASSERT_EQUAL_FATAL(sn_activations_snapshot(dist, ref, ds, &tf, again, 3, 5, run_path), SN_OK);
  assert_nothing_open();
  CU_ASSERT_EQUAL(memcmp(params, ref->params, ref->n_params * sizeof *params), 0);
  CU_ASSERT_EQUAL(memcmp(state, ref->state, ref->n_state * sizeof *state), 0);
  free(params);
  free(state);

  hid_t file = H5Fopen(run_path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(file >= 0);
  char text[64];
  CU_ASSERT(sn_h5_read_string_attr(file, "format", text, sizeof text, 1) == SN_OK &&
            !strcmp(text, "shardnet-activations"));
  H5G_info_t info;
  CU_ASSERT(H5Gget_info(file, &info) >= 0 && info.nlinks == 2);
  hid_t g5 = H5Gopen2(file, "step_00000005", H5P_DEFAULT), g7 = H5Gopen2(file, "step_00000007", H5P_DEFAULT);
  CU_ASSERT_FATAL(g5 >= 0 && g7 >= 0);
  long long samples[3] = {0};
  hid_t attr = H5Aopen(g5, "samples", H5P_DEFAULT);
  CU_ASSERT(H5Aread(attr, H5T_NATIVE_LLONG, samples) >= 0 && samples[0] == 1 && samples[1] == 5 && samples[2] == 0);
  H5Aclose(attr);
  const uint32_t idx5[3] = {1, 5, 0}, idx7[1] = {2};
  check_record(g5, idx5, 3, 5);
  check_record(g7, idx7, 1, 7);
  H5Gclose(g5);
  H5Gclose(g7);
  H5Fclose(file);
}

static void test_snapshot_refusals(void) {
  const long outside[2] = {0, N};
  CU_ASSERT_EQUAL(sn_activations_snapshot(dist, ref, ds, &tf, outside, 2, 9, run_path), SN_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "sample 6 is outside"));
  /* Never appends into a file of another kind. */
  const long one[1] = {0};
  CU_ASSERT_EQUAL(sn_activations_snapshot(dist, ref, ds, &tf, one, 1, 9, data_path), SN_ERR_FORMAT);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "is not a shardnet-activations file"));
  assert_nothing_open();
}

int main(int argc, char **argv) {
  if (sn_dist_init(&argc, &argv, &dist) != SN_OK) {
    fprintf(stderr, "MPI: %s\n", sn_last_error());
    return 1;
  }
  int code = 1;
  if (setup() == 0) {
    const sn_test_case cases[] = {
        {"a file from a checkpoint equals batch-1 forwards, with attributes and images", test_file_from_checkpoint},
        {"a bad sample range fails before any file is written", test_bad_range},
        {"snapshots append steps, replace a repeated step and leave the net alone", test_snapshots},
        {"snapshots refuse samples outside the data and files of another format", test_snapshot_refusals},
        {NULL, NULL}};
    code = sn_test_main("activations file", cases);
  } else {
    fprintf(stderr, "setup failed: %s\n", sn_last_error());
  }
  teardown();
  sn_dist_finalize(dist);
  return code;
}
