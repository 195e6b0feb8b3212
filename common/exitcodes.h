/*
 * exitcodes.h - the exit codes every xfed program documents and uses.
 */
#ifndef XFED_EXITCODES_H
#define XFED_EXITCODES_H

#define XFED_EXIT_OK       0 /* success, or configuration valid (-n) */
#define XFED_EXIT_REJECTED 1 /* configuration or input rejected */
#define XFED_EXIT_USAGE    2 /* bad command line */
#define XFED_EXIT_SYSTEM   3 /* system failure: I/O, memory, environment */

#endif
