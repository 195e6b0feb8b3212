# The Debian package (cmake --build build --target package, or cpack in the
# build directory): the programs (each folder installs its own target), the
# systemd units, the host-local default configuration under /etc/xfed marked
# as configuration files, the man pages and the maintainer scripts.
# Depends: is dpkg-shlibdeps over the binaries plus the tools the maintainer
# scripts call. docs/appliance.md "Debian package" describes the result.
#
# Version: PROJECT_VERSION unless -DXFED_PACKAGE_VERSION=... is given at
# configure time, or XFED_PACKAGE_VERSION is set in the environment of cpack
# (how tests/image/package_install builds an older and a newer package from
# one build tree).
set(XFED_IMAGE_DIR ${CMAKE_SOURCE_DIR}/image)
set(XFED_PACKAGE_VERSION "${PROJECT_VERSION}" CACHE STRING
    "Version of the Debian package (default: the project version)")

# Man pages, compressed as Debian policy 12.1 wants them (gzip -9n: no name,
# no time stamp, so the package is reproducible).
set(XFED_MAN_PAGES xfed-edge.8 xfed-gateway.8 xfed-panel.8 xfedctl.8)
find_program(XFED_GZIP gzip REQUIRED)
set(XFED_MAN_OUT)
foreach(page ${XFED_MAN_PAGES})
    set(src ${CMAKE_SOURCE_DIR}/docs/man/${page})
    set(out ${CMAKE_BINARY_DIR}/man/${page}.gz)
    add_custom_command(OUTPUT ${out}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
        COMMAND ${XFED_GZIP} -9nc ${src} > ${out}
        DEPENDS ${src}
        COMMENT "Compressing man page ${page}"
        VERBATIM)
    list(APPEND XFED_MAN_OUT ${out})
endforeach()
add_custom_target(xfed_man_pages ALL DEPENDS ${XFED_MAN_OUT})
install(FILES ${XFED_MAN_OUT} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

# systemd units (the package enables none: the appliance's first boot enables
# the services of the chosen role, an administrator does it by hand).
set(XFED_UNITS
    ${XFED_IMAGE_DIR}/systemd/xfed-edge.service
    ${XFED_IMAGE_DIR}/systemd/xfed-gateway.service
    ${XFED_IMAGE_DIR}/systemd/xfed-panel.service)
install(FILES ${XFED_UNITS} DESTINATION lib/systemd/system)

# Host-local defaults, one file per program, each a conffile: dpkg keeps an
# administrator's changes on upgrade. xfed.conf is not shipped: postinst
# creates it with `xfedctl init` (it holds a secret unique to each host).
set(XFED_CONFFILES edge.conf gateway.conf panel.conf)
set(XFED_CONFFILES_LIST "")
foreach(f ${XFED_CONFFILES})
    install(FILES ${XFED_IMAGE_DIR}/etc/${f} DESTINATION /etc/xfed)
    string(APPEND XFED_CONFFILES_LIST "/etc/xfed/${f}\n")
endforeach()
file(WRITE ${CMAKE_BINARY_DIR}/deb/conffiles "${XFED_CONFFILES_LIST}")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME xfed)
set(CPACK_PACKAGE_VENDOR "xfed")
set(CPACK_PACKAGE_CONTACT "xfed maintainers <xfed@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "XMPP federation for SIP/SIMPLE deployments")
set(CPACK_PACKAGE_DESCRIPTION
    "xfed-edge speaks XMPP server-to-server (TLS, SASL EXTERNAL, dialback, per-partner policy); xfed-gateway translates XMPP to SIP/SIMPLE; xfedctl and xfed-panel manage the XMPP federated partners.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_VERSION ${XFED_PACKAGE_VERSION})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# postinst: addgroup/adduser (adduser); getent, install, chown, chmod
# (libc-bin, coreutils: essential); systemctl only when systemd runs.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/deb/conffiles
    ${XFED_IMAGE_DIR}/deb/postinst
    ${XFED_IMAGE_DIR}/deb/prerm
    ${XFED_IMAGE_DIR}/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_SOURCE_DIR}/cmake/PackagingVersion.cmake)
include(CPack)
