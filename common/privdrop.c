/*
 * privdrop.c - see privdrop.h.
 */
/* setresuid and setresgid need _GNU_SOURCE (set for every target by CMake) */
#include "privdrop.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "log.h"

int privdrop_to(const char *user, const char *conf_file)
{
    if (getuid() != 0)
        return 0;
    if (user == NULL || *user == '\0') {
        log_warnx("event=start running as root: set 'user' in %s", conf_file);
        return 0;
    }
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        log_warnx("event=start unknown user '%s'", user);
        return -1;
    }
    if (setgroups(1, &pw->pw_gid) != 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
        log_warn("event=start cannot drop privileges to %s", user);
        return -1;
    }
    if (setuid(0) == 0) {
        log_warnx("event=start privileges could be regained");
        return -1;
    }
    log_info("event=start user=%s uid=%u", user, (unsigned)pw->pw_uid);
    return 0;
}
