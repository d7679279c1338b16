/* The subcommands of the shardnet CLI; each returns the process exit code. */
#ifndef SN_CLI_COMMANDS_H
#define SN_CLI_COMMANDS_H

#include "shardnet/config.h"
#include "shardnet/dataset.h"
#include "shardnet/dist.h"
#include "shardnet/status.h"

int sn_cmd_summary(int argc, char **argv);
int sn_cmd_train(int argc, char **argv);
int sn_cmd_eval(int argc, char **argv);
int sn_cmd_predict(int argc, char **argv);
int sn_cmd_convert(int argc, char **argv);
int sn_cmd_activations(int argc, char **argv);
int sn_cmd_bench(int argc, char **argv);
int sn_cmd_report(int argc, char **argv);

/* Prints "shardnet: error: <message>" to stderr. */
void sn_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Starts MPI, runs body on every rank, prints a failure once (from the rank that
 * saw it) and returns the exit code: 0, or 1 on every rank after any failure. */
int sn_cli_run_mpi(int argc, char **argv, sn_status (*body)(sn_dist *d, void *ctx), void *ctx);


/* Collects repeated `--set key=value` options. */
#define SN_MAX_OVERRIDES 64
typedef struct {
  const char *items[SN_MAX_OVERRIDES];
  int count;
} sn_overrides;

/* If argv[*i] is `--set k=v` or `--set=k=v`, records it, advances *i and returns 1;
 * returns -1 (after printing the error) when malformed, 0 when not a --set. */
int sn_cli_take_set(int argc, char **argv, int *i, sn_overrides *o);

/* If argv[*i] is `--name VALUE` or `--name=VALUE`, stores VALUE and returns 1 (or -1
 * when the value is missing), else 0. */
int sn_cli_take_value(int argc, char **argv, int *i, const char *name, const char **value);

#endif
