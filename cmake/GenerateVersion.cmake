# Writes OUT (xlstm/VersionInfo.inc) with the project version and the git
# revision of SOURCE_DIR; leaves the file alone when nothing changed, so
# that a build after a commit recompiles only what prints the version.
execute_process(
  COMMAND git -C "${SOURCE_DIR}" describe --always --dirty --abbrev=12
  OUTPUT_VARIABLE revision OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE status ERROR_QUIET)
if(NOT status EQUAL 0 OR revision STREQUAL "")
  set(revision "unknown")
endif()
set(text "#define XLSTM_VERSION_STRING \"${VERSION}\"\n#define XLSTM_GIT_REVISION \"${revision}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
else()
  set(old "")
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
