# Read by cpack for each generator run (CPACK_PROJECT_CONFIG_FILE in
# cmake/Packaging.cmake): XFED_PACKAGE_VERSION in cpack's environment
# overrides the package version, so one build tree can produce an older and
# a newer package (tests/image/package_install does so for the upgrade test).
if(DEFINED ENV{XFED_PACKAGE_VERSION} AND NOT "$ENV{XFED_PACKAGE_VERSION}" STREQUAL "")
    set(CPACK_PACKAGE_VERSION "$ENV{XFED_PACKAGE_VERSION}")
    set(CPACK_DEBIAN_PACKAGE_VERSION "$ENV{XFED_PACKAGE_VERSION}")
endif()
