# The Debian package (cmake --build build --target package): programs,
# systemd units, host-local default configuration under /etc/xfed marked as
# configuration files, man pages, maintainer scripts. Depends: is computed by
# dpkg-shlibdeps from the binaries plus the tools the scripts call.
set(XFED_IMAGE_DIR ${CMAKE_SOURCE_DIR}/image)

file(GLOB XFED_MAN_PAGES ${CMAKE_SOURCE_DIR}/docs/man/*.8)
install(FILES ${XFED_MAN_PAGES} DESTINATION share/man/man8)
file(GLOB XFED_UNITS ${XFED_IMAGE_DIR}/systemd/*.service)
install(FILES ${XFED_UNITS} DESTINATION lib/systemd/system)
file(GLOB XFED_ETC ${XFED_IMAGE_DIR}/etc/*.conf)
install(FILES ${XFED_ETC} DESTINATION /etc/xfed)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME xfed)
set(CPACK_PACKAGE_VENDOR "xfed")
set(CPACK_PACKAGE_CONTACT "xfed maintainers <xfed@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "XMPP federation for SIP/SIMPLE deployments")
set(CPACK_PACKAGE_DESCRIPTION "xfed-edge speaks XMPP server-to-server (TLS, SASL EXTERNAL, dialback, per-partner policy); xfed-gateway translates XMPP to SIP/SIMPLE; xfedctl and xfed-panel manage the XMPP federated partners.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
if(NOT XFED_PACKAGE_VERSION)
    set(XFED_PACKAGE_VERSION ${PROJECT_VERSION})
endif()
set(CPACK_PACKAGE_VERSION ${XFED_PACKAGE_VERSION})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, openssl, nftables, systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${XFED_IMAGE_DIR}/deb/postinst
    ${XFED_IMAGE_DIR}/deb/prerm
    ${XFED_IMAGE_DIR}/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
