/* Checkpoint files: atomic writing by one rank, validated reading. */
#define _POSIX_C_SOURCE 200809L
#include "shardnet/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "io/h5util.h"

#define CHECKPOINT_FORMAT "shardnet-checkpoint"
/* 2: `config` is the resolved configuration, overrides applied (1: as written). */
#define CHECKPOINT_VERSION 2

static void dims_text(const long long *dims, int n, char *buf, size_t cap) {
  buf[0] = '\0';
  for (int i = 0; i < n; i++) {
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, i ? "x%lld" : "%lld", dims[i]);
  }
}

/* Writes one tensor of layer i (values in shardnet layout) at <group>/<layer>/<layer>/<name>:0. */
static sn_status write_tensor(hid_t group, const sn_net *net, int i, int k, const float *values, float *scratch) {
  const sn_layer *l = &net->layers[i];
  int kdims[4];
  int nd = sn_keras_dims(net, i, k, kdims);
  hsize_t hd[4];
  for (int d = 0; d < nd; d++) hd[d] = (hsize_t)kdims[d];
  sn_keras_export(net, i, k, values, scratch);
  char path[3 * SN_NAME_CAP];
  snprintf(path, sizeof path, "%s/%s/%s:0", l->name, l->name, l->params[k].name);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  /* A Fletcher-32 checksum per chunk, which HDF5 verifies on every read: a flipped bit
   * in the weights fails the load instead of training on from damaged values. The
   * filter needs a chunked layout: whole rows of the tensor, at most 1 MiB a chunk
   * (HDF5's chunk cache size). The filter pipeline copies a chunk to checksum it, so
   * larger chunks add their size to the trainer's peak memory at every checkpoint. */
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hsize_t chunk[4];
  size_t row = sizeof(float);
  for (int d = 1; d < nd; d++) row *= (size_t)hd[d];
  for (int d = 0; d < nd; d++) chunk[d] = hd[d] ? hd[d] : 1;
  /* rows split evenly: a last chunk with a few rows would take a whole chunk on disk */
  const hsize_t fit = (hsize_t)((256u << 10) / (row ? row : 1));
  if (chunk[0] > fit) {
    const hsize_t pieces = fit ? (chunk[0] + fit - 1) / fit : chunk[0];
    chunk[0] = (chunk[0] + pieces - 1) / pieces;
  }
  herr_t err = row > (16u << 20) ? -1 : 0;  /* one row past 16 MB: no tensor of a CNN */
  if (err == 0) err = H5Pset_chunk(dcpl, nd, chunk) < 0 || H5Pset_fletcher32(dcpl) < 0 ? -1 : 0;
  if (err == 0) err = sn_h5_write_whole(group, path, nd, hd, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, lcpl, dcpl, scratch);
  H5Pclose(dcpl);
  H5Pclose(lcpl);
  return err < 0 ? sn_fail(SN_ERR_IO, "cannot write %s", path) : SN_OK;
}

/* Keras attributes: layer_names on the group, weight_names on each layer's group. */
static sn_status write_names(hid_t group, const sn_net *net, int trainable_only) {
  const char **names = calloc((size_t)net->n_layers, sizeof *names);
  if (!names) return sn_fail(SN_ERR_NOMEM, "cannot allocate layer names");
  for (int i = 0; i < net->n_layers; i++) names[i] = net->layers[i].name;
  sn_status st = sn_h5_write_strings_attr(group, "layer_names", names, net->n_layers);
  free(names);
  for (int i = 0; i < net->n_layers && st == SN_OK; i++) {
    const sn_layer *l = &net->layers[i];
    char weight[SN_MAX_PARAMS][2 * SN_NAME_CAP];
    const char *list[SN_MAX_PARAMS];
    int n = 0;
    for (int k = 0; k < l->n_params; k++) {
      if (trainable_only && !l->params[k].trainable) continue;
      snprintf(weight[n], sizeof weight[n], "%s/%s:0", l->name, l->params[k].name);
      list[n] = weight[n];
      n++;
    }
    hid_t lg = H5Gcreate2(group, l->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (lg < 0) return sn_fail(SN_ERR_IO, "cannot create group %s", l->name);
    st = sn_h5_write_strings_attr(lg, "weight_names", list, n);
    H5Gclose(lg);
  }
  return st;
}

static sn_status write_weights(hid_t file, const sn_net *net, float *scratch) {
  hid_t g = H5Gcreate2(file, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  sn_status st = g < 0 ? sn_fail(SN_ERR_IO, "cannot create /model_weights") : write_names(g, net, 0);
  if (st == SN_OK) st = sn_h5_write_string_attr(g, "backend", "shardnet");
  for (int i = 0; i < net->n_layers && st == SN_OK; i++)
    for (int k = 0; k < net->layers[i].n_params && st == SN_OK; k++)
      st = write_tensor(g, net, i, k, net->layers[i].params[k].data, scratch);
  if (g >= 0) H5Gclose(g);
  return st;
}

/* /optimizer/<moment>/... mirrors /model_weights for the trainable tensors. */
static sn_status write_optimizer(hid_t file, const sn_net *net, const sn_optimizer_state *opt, float *scratch) {
  hid_t g = H5Gcreate2(file, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) return sn_fail(SN_ERR_IO, "cannot create /optimizer");
  sn_status st = sn_h5_write_string_attr(g, "type", opt->type);
  if (st == SN_OK) st = sn_h5_write_int_attr(g, "step", (long long)opt->steps);
  for (int m = 0; m < opt->n_moments && st == SN_OK; m++) {
    hid_t mg = H5Gcreate2(g, opt->moment_names[m], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (mg < 0) {
      st = sn_fail(SN_ERR_IO, "cannot create /optimizer/%s", opt->moment_names[m]);
      break;
    }
    st = write_names(mg, net, 1);
    const float *moment = opt->moments[m];
    for (int i = 0; i < net->n_layers && st == SN_OK; i++)
      for (int k = 0; k < net->layers[i].n_params && st == SN_OK; k++) {
        const sn_param *p = &net->layers[i].params[k];
        if (p->trainable) st = write_tensor(mg, net, i, k, moment + (p->data - net->params), scratch);
      }
    H5Gclose(mg);
  }
  H5Gclose(g);
  return st;
}

static sn_status write_meta(hid_t file, const sn_checkpoint_meta *meta) {
  char created[32];
  time_t now = time(NULL);
  struct tm tm;
  strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  SN_TRY(sn_h5_write_string_attr(file, "format", CHECKPOINT_FORMAT));
  SN_TRY(sn_h5_write_int_attr(file, "format_version", CHECKPOINT_VERSION));
  SN_TRY(sn_h5_write_int_attr(file, "step", meta->step));
  SN_TRY(sn_h5_write_int_attr(file, "epoch", meta->epoch));
  SN_TRY(sn_h5_write_int_attr(file, "samples_seen", meta->samples_seen));
  SN_TRY(sn_h5_write_int_attr(file, "seed", (long long)meta->seed));
  SN_TRY(sn_h5_write_int_attr(file, "world_size", meta->world_size));
  SN_TRY(sn_h5_write_string_attr(file, "config", meta->config_text ? meta->config_text : ""));
  if (meta->n_overrides) SN_TRY(sn_h5_write_strings_attr(file, "overrides", meta->overrides, meta->n_overrides));
  return sn_h5_write_string_attr(file, "created", created);
}

/* Forces a file's (or directory's) data to disk. */
static sn_status sync_path(const char *path, int directory) {
  int fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return sn_fail(SN_ERR_IO, "cannot open %s to sync it: %s", path, strerror(errno));
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  return rc == 0 ? SN_OK : sn_fail(SN_ERR_IO, "cannot sync %s: %s", path, strerror(err));
}

/* Refuses, before HDF5 touches the disk, a checkpoint the file system has no room
 * for: HDF5 1.10 leaves a file whose write failed half-closed, and closing it again
 * at MPI_Finalize crashed the process after the error was reported. The estimate is
 * the tensors' bytes, the config text and 1 MB for HDF5's metadata. */
static sn_status check_room(const char *path, const sn_net *net, const sn_optimizer_state *opt,
                            const sn_checkpoint_meta *meta) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  struct statvfs fs;
  if (statvfs(dirname(dir), &fs) != 0) return SN_OK;  /* the create reports what is wrong */
  const int copies = 1 + (opt ? opt->n_moments : 0);
  const double need = sizeof(float) * ((double)net->n_params * copies + (double)net->n_state) +
                      (meta->config_text ? (double)strlen(meta->config_text) : 0.0) + 1048576.0;
  const double room = (double)fs.f_bavail * (double)fs.f_frsize;
  if (need > room)
    return sn_fail(SN_ERR_IO, "it needs about %.1f MB and %s has %.1f MB free", need / 1048576.0, dir,
                   room / 1048576.0);
  return SN_OK;
}

static sn_status checkpoint_write_unlocked(const char *path, const sn_net *net, const sn_optimizer_state *opt,
                                           const sn_checkpoint_meta *meta) {
  sn_h5_quiet();
  sn_status room = check_room(path, net, opt, meta);
  if (room != SN_OK) return sn_fail_context(room, "checkpoint %s not written", path);
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  size_t largest = 1;
  for (int i = 0; i < net->n_layers; i++)
    for (int k = 0; k < net->layers[i].n_params; k++)
      if (net->layers[i].params[k].count > largest) largest = net->layers[i].params[k].count;
  float *own = NULL, *scratch = meta->scratch;
  if (meta->scratch_floats < largest || !meta->scratch) {
    scratch = own = malloc(largest * sizeof *scratch);
    if (!own) return sn_fail(SN_ERR_NOMEM, "cannot allocate checkpoint buffer");
  }
  /* The 1.8 file format and later checksum the superblock and object headers, so
   * damaged metadata is reported instead of read */
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
  hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  sn_status st = file < 0 ? sn_fail(SN_ERR_IO, "cannot create %s: %s", tmp, strerror(errno)) : SN_OK;
  if (st == SN_OK) st = write_meta(file, meta);
  if (st == SN_OK) st = write_weights(file, net, scratch);
  if (st == SN_OK && opt) st = write_optimizer(file, net, opt, scratch);
  if (file >= 0 && H5Fclose(file) < 0 && st == SN_OK)
    st = sn_fail(SN_ERR_IO, "cannot finish writing %s (disk full?)", tmp);
  free(own);
  if (st == SN_OK) st = sync_path(tmp, 0);
  if (st == SN_OK && rename(tmp, path) != 0)
    st = sn_fail(SN_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  if (st == SN_OK) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    st = sync_path(dirname(dir), 1);
  }
  if (st != SN_OK) {
    unlink(tmp);  /* never leave a partial file that looks like progress */
    return sn_fail_context(st, "checkpoint %s not written", path);
  }
  return SN_OK;
}

/* HDF5 is not thread-safe here: a stream reader's thread may be reading. */
sn_status sn_checkpoint_write(const char *path, const sn_net *net, const sn_optimizer_state *opt,
                              const sn_checkpoint_meta *meta) {
  sn_h5_lock();
  sn_status st = checkpoint_write_unlocked(path, net, opt, meta);
  sn_h5_unlock();
  return st;
}

static sn_status read_long(hid_t file, const char *name, long *out) {
  long long v;
  SN_TRY(sn_h5_read_int_attr(file, name, &v));
  *out = (long)v;
  return SN_OK;
}

/* An integer attribute that must lie in [lo, hi]: the file may be crafted, and these
 * index the training set and count steps. */
static sn_status read_long_in(hid_t file, const char *name, long lo, long hi, long *out) {
  SN_TRY(read_long(file, name, out));
  if (*out < lo || *out > hi)
    return sn_fail(SN_ERR_FORMAT, "attribute '%s' is %ld, outside %ld to %ld", name, *out, lo, hi);
  return SN_OK;
}

static sn_status read_info(hid_t file, sn_checkpoint_info *info) {
  long v;
  SN_TRY(read_long(file, "format_version", &v));
  if (v < 1 || v > CHECKPOINT_VERSION)
    return sn_fail(SN_ERR_FORMAT, "format_version %ld is not one this shardnet reads (1 to %d)", v,
                   CHECKPOINT_VERSION);
  info->format_version = (int)v;
  SN_TRY(read_long_in(file, "step", 0, 1L << 53, &info->step));
  SN_TRY(read_long_in(file, "samples_seen", 0, 1L << 53, &info->samples_seen));
  SN_TRY(read_long_in(file, "epoch", 0, 1000000, &v));
  info->epoch = (int)v;
  SN_TRY(read_long_in(file, "world_size", 1, 1 << 24, &v));
  info->world_size = (int)v;
  SN_TRY(read_long(file, "seed", &v));
  info->seed = (uint64_t)v;
  size_t cap = 1 << 20;
  info->config_text = malloc(cap);
  if (!info->config_text) return sn_fail(SN_ERR_NOMEM, "cannot allocate config text");
  SN_TRY(sn_h5_read_string_attr(file, "config", info->config_text, cap, 1));
  SN_TRY(sn_h5_read_strings_attr(file, "overrides", &info->overrides, &info->n_overrides));
  if (H5Lexists(file, "optimizer", H5P_DEFAULT) > 0) {
    hid_t g = H5Gopen2(file, "optimizer", H5P_DEFAULT);
    sn_status st = sn_h5_read_string_attr(g, "type", info->optimizer, sizeof info->optimizer, 1);
    H5Gclose(g);
    SN_TRY(st);
  }
  return SN_OK;
}

static sn_status checkpoint_read_info_unlocked(const char *path, sn_checkpoint_info *info) {
  memset(info, 0, sizeof *info);
  hid_t file;
  SN_TRY(sn_h5_open_read(NULL, path, &file));
  sn_status st = sn_h5_check_format(file, path, CHECKPOINT_FORMAT);
  if (st == SN_OK && H5Lexists(file, "model_weights", H5P_DEFAULT) <= 0)
    st = sn_fail(SN_ERR_FORMAT, "%s is not a shardnet checkpoint (no /model_weights)", path);
  if (st == SN_OK && (st = read_info(file, info)) != SN_OK)
    st = sn_fail_context(st, "%s is damaged or incomplete", path);
  H5Fclose(file);
  if (st != SN_OK) sn_checkpoint_info_free(info);
  return st;
}

/* HDF5 is not thread-safe here: a stream reader's thread may be reading. */
sn_status sn_checkpoint_read_info(const char *path, sn_checkpoint_info *info) {
  sn_h5_lock();
  sn_status st = checkpoint_read_info_unlocked(path, info);
  sn_h5_unlock();
  return st;
}

void sn_checkpoint_info_free(sn_checkpoint_info *info) {
  free(info->config_text);
  for (int i = 0; i < info->n_overrides; i++) free(info->overrides[i]);
  free(info->overrides);
  memset(info, 0, sizeof *info);
}

/* Reads <group>/<layer>/<layer>/<name>:0 into dst (shardnet layout), checking its shape. */
static sn_status read_tensor(hid_t group, const char *where, const sn_net *net, int i, int k, float *dst,
                             float *scratch) {
  const sn_layer *l = &net->layers[i];
  char path[3 * SN_NAME_CAP];
  snprintf(path, sizeof path, "%s/%s/%s:0", l->name, l->name, l->params[k].name);
  if (H5Lexists(group, l->name, H5P_DEFAULT) <= 0)
    return sn_fail(SN_ERR_FORMAT, "layer '%s' of the model is not in the checkpoint's %s", l->name, where);
  htri_t exists = H5Lexists(group, path, H5P_DEFAULT) > 0 ? 1 : 0;
  if (!exists) return sn_fail(SN_ERR_FORMAT, "the checkpoint has no %s/%s", where, path);
  hid_t dset = H5Dopen2(group, path, H5P_DEFAULT);
  if (dset < 0) return sn_fail(SN_ERR_FORMAT, "the checkpoint's %s/%s is not a dataset", where, path);
  hsize_t hd[SN_H5_MAX_RANK] = {0};
  int nd;
  size_t row;
  char name[4 * SN_NAME_CAP];
  snprintf(name, sizeof name, "%s/%s", where + 1, path);
  sn_status shape = sn_h5_shape(dset, "the checkpoint", name, 1, SN_H5_MAX_RANK, SIZE_MAX, hd, &nd, &row);
  if (shape != SN_OK) {
    H5Dclose(dset);
    return shape;
  }
  int want[4];
  long long have[SN_H5_MAX_RANK], wanted[4];
  const int wn = sn_keras_dims(net, i, k, want);
  int same = nd == wn;
  for (int d = 0; d < wn; d++) wanted[d] = want[d];
  for (int d = 0; d < nd; d++) {
    have[d] = (long long)hd[d];
    if (d < wn && hd[d] != (hsize_t)want[d]) same = 0;
  }
  if (!same) {
    char a[64], b[64];
    dims_text(have, nd, a, sizeof a);
    dims_text(wanted, wn, b, sizeof b);
    H5Dclose(dset);
    return sn_fail(SN_ERR_SHAPE, "layer '%s' %s:0 has shape %s in the checkpoint but %s in the model", l->name,
                   l->params[k].name, a, b);
  }
  herr_t err = H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, scratch);
  H5Dclose(dset);
  if (err < 0) return sn_fail(SN_ERR_IO, "cannot read %s/%s (corrupt file, or its checksum does not match)", where, path);
  const size_t count = l->params[k].count;
  for (size_t e = 0; e < count; e++)
    if (!isfinite(scratch[e]))
      return sn_fail(SN_ERR_NUMERIC, "%s/%s holds %s at element %zu", where, path, isnan(scratch[e]) ? "NaN" : "Inf", e);
  sn_keras_import(net, i, k, scratch, dst);
  return SN_OK;
}

/* The checkpoint's layer_names must be the model's, in order. */
static sn_status check_layers(hid_t group, const sn_net *net) {
  char **names;
  int n;
  SN_TRY(sn_h5_read_strings_attr(group, "layer_names", &names, &n));
  sn_status st = SN_OK;
  for (int i = 0; i < n || i < net->n_layers; i++) {
    if (i >= n) {
      st = sn_fail(SN_ERR_FORMAT, "the model's layer '%s' is not in the checkpoint (which has %d layers)",
                   net->layers[i].name, n);
      break;
    }
    if (i >= net->n_layers) {
      st = sn_fail(SN_ERR_FORMAT, "the checkpoint's layer '%s' is not in the model (which has %d layers)",
                   names[i], net->n_layers);
      break;
    }
    if (strcmp(names[i], net->layers[i].name)) {
      st = sn_fail(SN_ERR_FORMAT, "layer %d is '%s' in the checkpoint but '%s' in the model", i + 1, names[i],
                   net->layers[i].name);
      break;
    }
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  return st;
}

static sn_status load_groups(hid_t file, sn_net *net, sn_optimizer_state *opt, float *scratch) {
  hid_t g = H5Gopen2(file, "model_weights", H5P_DEFAULT);
  if (g < 0) return sn_fail(SN_ERR_FORMAT, "no /model_weights");
  sn_status st = check_layers(g, net);
  for (int i = 0; i < net->n_layers && st == SN_OK; i++)
    for (int k = 0; k < net->layers[i].n_params && st == SN_OK; k++)
      st = read_tensor(g, "/model_weights", net, i, k, net->layers[i].params[k].data, scratch);
  H5Gclose(g);
  if (st != SN_OK || !opt) return st;
  if (H5Lexists(file, "optimizer", H5P_DEFAULT) <= 0) return sn_fail(SN_ERR_FORMAT, "no /optimizer state");
  g = H5Gopen2(file, "optimizer", H5P_DEFAULT);
  char type[16];
  long long step = 0;
  st = sn_h5_read_string_attr(g, "type", type, sizeof type, 1);
  if (st == SN_OK && strcmp(type, opt->type))
    st = sn_fail(SN_ERR_FORMAT, "its optimizer is %s but the config asks for %s", type, opt->type);
  if (st == SN_OK) st = sn_h5_read_int_attr(g, "step", &step);
  if (st == SN_OK && (step < 0 || step > (1LL << 53)))
    st = sn_fail(SN_ERR_FORMAT, "/optimizer attribute 'step' is %lld, outside 0 to 2^53", step);
  if (st == SN_OK) opt->steps = step;
  for (int m = 0; m < opt->n_moments && st == SN_OK; m++) {
    char where[64];
    snprintf(where, sizeof where, "/optimizer/%s", opt->moment_names[m]);
    hid_t mg = H5Gopen2(g, opt->moment_names[m], H5P_DEFAULT);
    if (mg < 0) {
      st = sn_fail(SN_ERR_FORMAT, "no %s", where);
      break;
    }
    float *moment = opt->moments[m];
    for (int i = 0; i < net->n_layers && st == SN_OK; i++)
      for (int k = 0; k < net->layers[i].n_params && st == SN_OK; k++) {
        const sn_param *p = &net->layers[i].params[k];
        if (p->trainable) st = read_tensor(mg, where, net, i, k, moment + (p->data - net->params), scratch);
      }
    H5Gclose(mg);
  }
  H5Gclose(g);
  return st;
}

static sn_status checkpoint_load_unlocked(const char *path, sn_net *net, sn_optimizer_state *opt) {
  hid_t file;
  SN_TRY(sn_h5_open_read(NULL, path, &file));
  size_t largest = 1;
  for (int i = 0; i < net->n_layers; i++)
    for (int k = 0; k < net->layers[i].n_params; k++)
      if (net->layers[i].params[k].count > largest) largest = net->layers[i].params[k].count;
  float *scratch = malloc(largest * sizeof *scratch);
  sn_status st = scratch ? sn_h5_check_format(file, path, CHECKPOINT_FORMAT) : sn_fail(SN_ERR_NOMEM, "no memory");
  if (st == SN_OK) st = load_groups(file, net, opt, scratch);
  free(scratch);
  H5Fclose(file);
  if (st != SN_OK)
    return sn_fail_context(st, st == SN_ERR_IO || st == SN_ERR_NUMERIC ? "checkpoint %s cannot be loaded"
                                                                       : "checkpoint %s does not match the model",
                           path);
  return SN_OK;
}

/* HDF5 is not thread-safe here: a stream reader's thread may be reading. */
sn_status sn_checkpoint_load(const char *path, sn_net *net, sn_optimizer_state *opt) {
  sn_h5_lock();
  sn_status st = checkpoint_load_unlocked(path, net, opt);
  sn_h5_unlock();
  return st;
}
