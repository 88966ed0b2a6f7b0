# Install rules and CPack .deb packages (sungrow-server, sungrow-edge, sungrow-sim), offered in release builds only.
# Test builds (SUNGROW_TEST_HOOKS, sanitizers, fuzzing) and unoptimized builds are never packaged:
# an installed agent must not carry test-only switches. scripts/check-packages builds, installs and
# starts the packages; docs/operations.md describes what they install.
if(SUNGROW_TEST_HOOKS OR SUNGROW_SANITIZE OR SUNGROW_BUILD_FUZZ
   OR NOT CMAKE_BUILD_TYPE MATCHES "^(Release|MinSizeRel|RelWithDebInfo)$")
  return()
endif()

include(GNUInstallDirs)

set(SUNGROW_PACKAGE_MAINTAINER
    "Sungrow telemetry maintainers <maintainers@users.noreply.r-seed-02fb1f7a.example>"
    CACHE STRING "Maintainer field of the .deb packages")

# Debian's places for these, whatever the install prefix (CPack installs the packages to /usr).
set(sungrow_unit_dir /lib/systemd/system)
set(sungrow_conf_dir /etc/sungrow)
set(sungrow_deploy ${PROJECT_SOURCE_DIR}/deploy)
set(sungrow_control_dir ${PROJECT_BINARY_DIR}/packaging)

# One package per component. sungrow_package(<component> [UNIT <unit>] [CONFFILE <path>]) writes
# the control extras: the conffiles list (the settings file under /etc, which upgrades keep) and,
# for a service, the maintainer scripts (deploy/debian/*.in).
function(sungrow_package component)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "UNIT;CONFFILE" "")
  set(dir ${sungrow_control_dir}/${component})
  set(extras "")
  if(arg_CONFFILE)
    file(WRITE ${dir}/conffiles "${arg_CONFFILE}\n")
    list(APPEND extras ${dir}/conffiles)
  endif()
  if(arg_UNIT)
    set(SUNGROW_UNIT ${arg_UNIT})
    foreach(script postinst prerm postrm)
      configure_file(${sungrow_deploy}/debian/${script}.in ${dir}/${script} @ONLY)
      list(APPEND extras ${dir}/${script})
    endforeach()
  endif()
  string(TOUPPER ${component} upper)
  set(CPACK_DEBIAN_${upper}_PACKAGE_CONTROL_EXTRA "${extras}" PARENT_SCOPE)
endfunction()

# sungrow-server: the binary, its unit, the settings file and a Caddyfile to start from.
install(TARGETS sungrow-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
install(FILES ${sungrow_deploy}/systemd/sungrow-server.service
        DESTINATION ${sungrow_unit_dir} COMPONENT server)
install(FILES ${sungrow_deploy}/vps/server.env.example RENAME server.env
        DESTINATION ${sungrow_conf_dir} COMPONENT server
        PERMISSIONS OWNER_READ OWNER_WRITE)
install(FILES ${sungrow_deploy}/vps/Caddyfile ${PROJECT_SOURCE_DIR}/docs/operations.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/sungrow-server COMPONENT server)
sungrow_package(server UNIT sungrow-server.service CONFFILE ${sungrow_conf_dir}/server.env)

# sungrow-edge: the agent, its unit, the settings file and the health-file check.
install(TARGETS sungrow-edge RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT edge)
install(PROGRAMS ${sungrow_deploy}/edge/sungrow-edge-healthcheck
        DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT edge)
install(FILES ${sungrow_deploy}/systemd/sungrow-edge.service
        DESTINATION ${sungrow_unit_dir} COMPONENT edge)
install(FILES ${sungrow_deploy}/edge/edge.env.example RENAME edge.env
        DESTINATION ${sungrow_conf_dir} COMPONENT edge
        PERMISSIONS OWNER_READ OWNER_WRITE)
install(FILES ${PROJECT_SOURCE_DIR}/docs/operations.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/sungrow-edge COMPONENT edge)
sungrow_package(edge UNIT sungrow-edge.service CONFFILE ${sungrow_conf_dir}/edge.env)

# sungrow-sim: its own package, so an edge box carries no simulator.
install(TARGETS sungrow-sim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT sim)
sungrow_package(sim)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sungrow)
set(CPACK_PACKAGE_VENDOR "sungrow-telemetry")
set(CPACK_PACKAGE_CONTACT "${SUNGROW_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_COMPONENTS_ALL server edge sim)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME sungrow-server)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION net)
set(CPACK_DEBIAN_SERVER_PACKAGE_RECOMMENDS caddy)
set(CPACK_DEBIAN_SERVER_PACKAGE_SUGGESTS "postgresql, redis-server")
set(CPACK_COMPONENT_SERVER_DESCRIPTION
    "Sungrow inverter telemetry server\n\
Authenticated batch ingest of inverter samples over HTTP, idempotent storage in\n\
PostgreSQL (or SQLite), the newest sample per device from Redis (or in process),\n\
time-zone-correct hourly/daily/monthly series, health and Prometheus metrics.\n\
Runs behind a TLS proxy such as Caddy (an example Caddyfile is included).")

set(CPACK_DEBIAN_EDGE_PACKAGE_NAME sungrow-edge)
set(CPACK_DEBIAN_EDGE_PACKAGE_SECTION net)
# libcurl only recommends the CA store; the agent verifies the server's certificate against it.
set(CPACK_DEBIAN_EDGE_PACKAGE_DEPENDS ca-certificates)
set(CPACK_DEBIAN_EDGE_PACKAGE_SUGGESTS sqlite3)
set(CPACK_COMPONENT_EDGE_DESCRIPTION
    "Sungrow inverter telemetry edge agent\n\
Polls a Sungrow SH-series hybrid inverter (WiNet-S) over Modbus TCP, commits every\n\
sample to a SQLite spool and uploads batches over HTTPS to sungrow-server, deleting\n\
only what the server acknowledged.")

set(CPACK_DEBIAN_SIM_PACKAGE_NAME sungrow-sim)
set(CPACK_DEBIAN_SIM_PACKAGE_SECTION misc)
set(CPACK_COMPONENT_SIM_DESCRIPTION
    "Simulated Sungrow SH4.0RS inverter on Modbus TCP\n\
A Modbus TCP server that behaves like an SH4.0RS behind a WiNet-S dongle, with\n\
switchable faults: for trying the telemetry pipeline without hardware.")

# `package_source` (which include(CPack) always adds): the sources without build trees or VCS data.
set(CPACK_SOURCE_GENERATOR TXZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\.git/" "/build[^/]*/" "/\\.cache/" "/demo-data/")

include(CPack)
