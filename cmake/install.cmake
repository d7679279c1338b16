# `cmake --install`: the shardnet command, libshardnet (shared and static), the public
# headers, a CMake package (find_package(shardnet) -> shardnet::shardnet, the shared
# library, and shardnet::shardnet_static) and a pkg-config file (shardnet.pc).
include(CMakePackageConfigHelpers)
set(SN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/shardnet)

install(TARGETS shardnet_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ${SN_LIBRARIES} EXPORT shardnetTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/shardnet DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/include/shardnet/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/shardnet)
install(EXPORT shardnetTargets NAMESPACE shardnet:: DESTINATION ${SN_CMAKE_DIR})

configure_package_config_file(cmake/shardnetConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/shardnetConfig.cmake
                              INSTALL_DESTINATION ${SN_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/shardnetConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/shardnetConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/shardnetConfigVersion.cmake
        DESTINATION ${SN_CMAKE_DIR})

# pkg-config: MPI's and OpenMP's flags are spelled out (MPI libraries differ in whether
# they ship a .pc file); the static library's own dependencies go in Libs.private.
function(sn_pc_libs out)
  set(flags "")
  foreach(lib ${ARGN})
    if(TARGET ${lib})
      continue()
    elseif(lib MATCHES "^/")
      string(APPEND flags " ${lib}")
    elseif(lib MATCHES "^-")
      string(APPEND flags " ${lib}")
    else()
      string(APPEND flags " -l${lib}")
    endif()
  endforeach()
  set(${out} "${flags}" PARENT_SCOPE)
endfunction()
set(SN_PC_CFLAGS "")
foreach(dir ${MPI_C_INCLUDE_DIRS})
  string(APPEND SN_PC_CFLAGS " -I${dir}")
endforeach()
string(APPEND SN_PC_CFLAGS " ${OpenMP_C_FLAGS}")
sn_pc_libs(SN_PC_LIBS ${MPI_C_LIBRARIES})
string(APPEND SN_PC_LIBS " ${OpenMP_C_FLAGS} -lpthread -lm")
sn_pc_libs(SN_PC_PRIVATE ${BLAS_LIBRARIES} ${HDF5_HL_LIBRARIES} ${HDF5_C_LIBRARIES} ${YAML_LINK_LIBRARIES}
           ${ZLIB_LIBRARIES} ${PNG_LIBRARIES} ${JPEG_LIBRARIES} ${DNNL_LIBRARY})
configure_file(cmake/shardnet.pc.in ${CMAKE_CURRENT_BINARY_DIR}/shardnet.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/shardnet.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
