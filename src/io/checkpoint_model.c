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
  sn_status st = sn_config_parse(info.config_text, resolved, (const char *const *)info.overrides,
                                 info.n_overrides, cfg);
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
