# xfedctl: the administrator's command line (included by conf/CMakeLists.txt).
# The Lync CSV reader is its own small library so that its unit test links
# exactly the code xfedctl runs.
add_library(xfed_lync STATIC
    conf_lync.c
)
target_include_directories(xfed_lync PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})

add_executable(xfedctl
    xfedctl_main.c
    xfedctl_util.c
    xfedctl_partner.c
    xfedctl_import.c
    xfedctl_settings.c
    xfedctl_hosted.c
    xfedctl_access.c
    xfedctl_check.c
    xfedctl_admin.c
    xfedctl_keys.c
    xfedctl_tap.c
    xfedctl_status.c
)
target_link_libraries(xfedctl PRIVATE xfed_conf xfed_lync xfed_common)
target_link_libraries(xfedctl PRIVATE xfed_ipc)

# The operator tools' STATS client (ops_stats.h), shared by `xfedctl status`
# and xfed-panel's status page.
add_library(xfed_ops STATIC
    ops_stats.c
)
target_include_directories(xfed_ops PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(xfed_ops PUBLIC xfed_ipc xfed_conf xfed_common PkgConfig::LIBEVENT)
target_link_libraries(xfedctl PRIVATE xfed_ops)
install(TARGETS xfedctl RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
