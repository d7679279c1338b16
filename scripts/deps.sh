# Sourced by the scripts: installs the Debian packages shardnet needs when they are
# missing (as root), or says what to install (as anyone else).
# shellcheck shell=bash

SN_BUILD_PACKAGES="cmake make gcc pkg-config zlib1g-dev libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools libopenblas-openmp-dev libyaml-dev libcunit1-dev libpng-dev libjpeg62-turbo-dev libdnnl-dev"
SN_TEST_PACKAGES="python3 python3-h5py python3-numpy python3-pil python3-yaml iproute2 procps lmod chromium"
SN_DATA_PACKAGES="dataset-fashion-mnist"
# The Slurm tests (tests/integration/test_slurm*.sh) start a private one-node cluster.
# The libFuzzer targets (scripts/fuzz.sh): clang with its sanitizer runtimes and OpenMP.
SN_FUZZ_PACKAGES="clang libclang-rt-14-dev libomp-14-dev"
SN_SLURM_PACKAGES="slurm-wlm munge"

# sn_require_packages PKG... : installs whichever of PKG are not installed.
sn_require_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "shardnet: missing Debian packages: ${missing[*]}" >&2
    echo "shardnet: install them with: sudo apt-get install ${missing[*]}" >&2
    return 1
  fi
  echo "shardnet: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A stale package list is the usual reason an install fails on a fresh machine.
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  }
}

# Open MPI refuses to run as root without these; they belong in scripts, not the library.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Two cores and several ranks: let mpirun place more ranks than cores.
export OMPI_MCA_rmaps_base_oversubscribe=1
