/* Rebuilding a trained model from a checkpoint for eval, predict and activations. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "shardnet/checkpoint.h"
#include "shardnet/config.h"

sn_status sn_checkpoint_open_model(const char *path, sn_config **cfg, sn_net **net, char *resolved) {
  *cfg = NULL;
  *net = NULL;
  struct stat sb;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
    snprintf(resolved, SN_PATH_CAP, "%s/latest.h5", path);
  else
    snprintf(resolved, SN_PATH_CAP, "%s", path);
  sn_checkpoint_info info;
  SN_TRY(sn_checkpoint_read_info(resolved, &info));
  /* Overrides are set-this-key edits, not safe to apply twice (one may rename the
   * layer it addresses), so only a version 1 file, saved as written, gets them. */
  const int as_written = info.format_version < 2;
  sn_status st = sn_config_parse(info.config_text, resolved,
                                 as_written ? (const char *const *)info.overrides : NULL,
                                 as_written ? info.n_overrides : 0, cfg);
  if (st != SN_OK) st = sn_fail_context(st, "the config saved in %s", resolved);
  if (st == SN_OK) st = sn_net_create(&(*cfg)->model, net);
  if (st == SN_OK) st = sn_checkpoint_load(resolved, *net, NULL);
  sn_checkpoint_info_free(&info);
  if (st != SN_OK) {
    sn_net_destroy(*net);
    sn_config_free(*cfg);
    *net = NULL;
    *cfg = NULL;
  }
  return st;
}
