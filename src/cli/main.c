/* `shardnet <command>`: dispatch to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "shardnet/gemm.h"
#include "shardnet/version.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
} command;

static const command commands[] = {
    {"train", sn_cmd_train,
     "train CONFIG [--resume latest|auto|FILE] [--set key=value]... [--trace FILE.json]\n"
     "      train data-parallel (under mpirun or srun)"},
    {"eval", sn_cmd_eval, "eval CKPT|RUN_DIR --data FILE [--batch N] [--placement P]\n      loss, accuracy and per-class accuracy"},
    {"predict", sn_cmd_predict,
     "predict CKPT|RUN_DIR --data FILE --out FILE [--batch N] [--placement P]\n      class probabilities and labels to HDF5"},
    {"activations", sn_cmd_activations,
     "activations CKPT|RUN_DIR --data FILE --samples A:B --out FILE [--placement P]\n      every layer's output to HDF5 (P: auto, replicate, node, shard, stream)"},
    {"report", sn_cmd_report,
     "report RUN_DIR [--out FILE.html] [--data TEST.h5] [--trace FILE.json]\n"
     "      one self-contained HTML page: curves, model, confusion matrix, slowest layers, feature maps"},
    {"summary", sn_cmd_summary,
     "summary CONFIG [--set key=value]...\n      per-layer shapes, parameters, FLOPs, receptive field"},
    {"convert", sn_cmd_convert,
     "convert idx|cifar10 ... --out FILE [--compress [LEVEL]] [--shuffle]\n"
     "  convert images DIR --size HxW --out FILE [--channels 1|3] [--split F [--seed S] [--test-out FILE]] ...\n"
     "      public datasets and class folders of PNG/JPEG images to shardnet HDF5 datasets\n"
     "      ('shardnet convert --help' lists the options)"},
    {"bench", sn_cmd_bench,
     "bench [--model NAME,...] [--threads 1,2] [--steps N] [--batch N] [--csv] ...\n"
     "      images/s of training steps on random data, per layer, and sgemm GFLOP/s"},
};

/* What a bug report needs: this version and the libraries it runs with. */
static void print_versions(void) {
  printf("shardnet %s\n", SHARDNET_VERSION);
  printf("MPI:    %s\n", sn_mpi_library_version());
  printf("HDF5:   %s\n", sn_hdf5_library_version());
  printf("BLAS:   %s\n", sn_blas_name());
  printf("oneDNN: %s\n", sn_onednn_library_version());
}

static void usage(FILE *out) {
  fprintf(out, "usage: shardnet <command> [options]\n       shardnet --version\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    fprintf(out, "  %s\n", commands[i].help);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    print_versions();
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  sn_cli_error("unknown command '%s' (run 'shardnet --help' for the list)", argv[1]);
  return 2;
}
