/*
 * log.h - one voice for errors and progress, shared by every Medallion program.
 *
 * Messages go to stderr as "progname: message". log_warn() appends the
 * current errno text; log_warnx() does not. fatal()/fatalx() log and exit(1).
 * Programs call log_init() once from main() with their name.
 */
#ifndef MEDALLION_LOG_H
#define MEDALLION_LOG_H

#include <stdarg.h>
#include <stdnoreturn.h>

void log_init(const char *progname, int verbose);
int log_verbose(void);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
