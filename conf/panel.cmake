# xfed-panel: the web control panel (included by conf/CMakeLists.txt).
# The static files of conf/panel/ are embedded into the binary by a CMake
# script (panel/embed.cmake), so nothing is read from disk or the Internet
# at run time.
find_package(Threads REQUIRED)

set(PANEL_ASSET_FILES
    ${CMAKE_CURRENT_SOURCE_DIR}/panel/panel.css
    ${CMAKE_CURRENT_SOURCE_DIR}/panel/panel.js
    ${CMAKE_CURRENT_SOURCE_DIR}/panel/favicon.svg
)
add_custom_command(
    OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/panel_assets_data.c
    COMMAND ${CMAKE_COMMAND} -DOUT=${CMAKE_CURRENT_BINARY_DIR}/panel_assets_data.c
            "-DFILES=${PANEL_ASSET_FILES}" -P ${CMAKE_CURRENT_SOURCE_DIR}/panel/embed.cmake
    DEPENDS ${PANEL_ASSET_FILES} ${CMAKE_CURRENT_SOURCE_DIR}/panel/embed.cmake
    COMMENT "Embedding the panel's static files"
    VERBATIM
)

# Accounts and password hashing: shared with `xfedctl admin`.
add_library(xfed_panel_accounts STATIC
    panel_accounts.c
    panel_buf.c
    panel_form.c
    panel_password.c
    panel_secret.c
)
target_include_directories(xfed_panel_accounts PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(xfed_panel_accounts PUBLIC xfed_conf xfed_common PkgConfig::XCRYPT
    Threads::Threads)

# Everything of the panel but the HTTP glue, so unit tests link it.
add_library(xfed_panel STATIC
    panel_api.c
    panel_app.c
    panel_assets.c
    panel_audit.c
    panel_auth.c
    panel_csrf.c
    panel_edit.c
    panel_json.c
    panel_metrics.c
    panel_options.c
    panel_pages.c
    panel_session.c
    panel_status.c
    panel_throttle.c
    ${CMAKE_CURRENT_BINARY_DIR}/panel_assets_data.c
)
target_include_directories(xfed_panel PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(xfed_panel PUBLIC xfed_panel_accounts xfed_conf xfed_common)
# The status page asks the edges through ops_stats (conf/xfedctl.cmake);
# GET /metrics runs on a thread of its own (panel_metrics.h).
target_link_libraries(xfed_panel PUBLIC xfed_ops xfed_metrics PkgConfig::LIBEVENT Threads::Threads)

if(TARGET xfedctl)
    target_link_libraries(xfedctl PRIVATE xfed_panel_accounts)
endif()

if(MHD_FOUND)
    add_executable(xfed-panel
        panel_main.c
        panel_http.c
    )
    target_link_libraries(xfed-panel PRIVATE xfed_panel PkgConfig::MHD Threads::Threads)
    install(TARGETS xfed-panel RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
else()
    message(WARNING "libmicrohttpd not found: xfed-panel is not built (apt-get install libmicrohttpd-dev)")
endif()
