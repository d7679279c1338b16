-- Lmod modulefile for shardnet 0.1.0. Install with
--   cmake -S . -B build -DCMAKE_INSTALL_PREFIX=/opt/shardnet/0.1.0 && cmake --build build -j && cmake --install build
-- copy this file to <modulepath>/shardnet/0.1.0.lua, set `root` below to the prefix,
-- and name the site's modules for the MPI, HDF5 and oneDNN it was built with.
help([[
shardnet 0.1.0: distributed data-parallel trainer for convolutional neural networks.
  shardnet --help            the commands
  shardnet --version         this build and the MPI, HDF5, BLAS and oneDNN it uses
Build against it with `pkg-config --cflags --libs shardnet` or CMake's
find_package(shardnet) (targets shardnet::shardnet, shardnet::shardnet_static).
]])
whatis("Name: shardnet")
whatis("Version: 0.1.0")
whatis("Category: machine learning, MPI")
whatis("Description: data-parallel CNN training with MPI, OpenMP and HDF5")

local root = "/opt/shardnet/0.1.0"

-- The libraries shardnet was built with (the names vary by site):
-- depends_on("openmpi", "hdf5-mpi", "onednn")

prepend_path("PATH", pathJoin(root, "bin"))
prepend_path("LD_LIBRARY_PATH", pathJoin(root, "lib"))
prepend_path("PKG_CONFIG_PATH", pathJoin(root, "lib/pkgconfig"))
prepend_path("CMAKE_PREFIX_PATH", root)
setenv("SHARDNET_ROOT", root)
