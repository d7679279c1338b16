# Spack recipe for shardnet. Put this file in a Spack repository as
# packages/shardnet/package.py (`spack repo create`, then `spack repo add`), and
#   spack install shardnet            # with oneDNN kernels
#   spack install shardnet ~onednn    # the portable im2col + CBLAS kernels only
#   spack install shardnet +tests     # and run the CUnit suites at install time
from spack.package import *


class Shardnet(CMakePackage):
    """Distributed data-parallel trainer for convolutional neural networks: MPI
    between ranks, OpenMP inside each, HDF5 for datasets, checkpoints and
    activations."""

    homepage = "https://github.com/shardnet/shardnet"
    git = "https://github.com/shardnet/shardnet.git"

    version("main", branch="main")

    variant("onednn", default=True, description="oneDNN kernels for convolution and dense layers (bf16 too)")
    variant("shared", default=True, description="Also build libshardnet.so")
    variant("tests", default=False, description="Build the CUnit suites and run them with `spack install --test`")

    depends_on("c", type="build")
    depends_on("cmake@3.20:", type="build")
    depends_on("pkgconfig", type="build")

    depends_on("mpi")
    depends_on("hdf5+mpi+hl")
    # cblas.h and an OpenMP build: shardnet's threads and OpenBLAS's must be one team
    depends_on("openblas threads=openmp")
    depends_on("libyaml")
    depends_on("zlib-api")
    depends_on("libpng")
    depends_on("jpeg")
    depends_on("onednn cpu_runtime=omp", when="+onednn")
    depends_on("cunit", when="+tests")

    def cmake_args(self):
        return [
            self.define("SN_ONEDNN", "ON" if self.spec.satisfies("+onednn") else "OFF"),
            self.define_from_variant("SN_SHARED", "shared"),
            self.define_from_variant("SN_BUILD_TESTS", "tests"),
            # site compilers warn about other things than the project's CI does
            self.define("SN_WERROR", False),
            self.define("BLA_VENDOR", "OpenBLAS"),
        ]

    def setup_run_environment(self, env):
        # mpirun as root in containers; harmless otherwise
        env.set("OMPI_MCA_rmaps_base_oversubscribe", "1")
