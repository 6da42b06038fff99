/* Tiny test harness for the C tests: checks that report the call, its
 * status, dyag_last_error() and the line, and count failures. */
#ifndef DYAG_TEST_CHECK_H
#define DYAG_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "dyag.h"

static int check_failures = 0;

/* Runs `call`, expects status `want`; leaves the message in `check_msg`. */
static char check_msg[4096];

#define EXPECT_STATUS(call, want)                                                          \
    do {                                                                                   \
        DyagStatus got_ = (call);                                                          \
        snprintf(check_msg, sizeof check_msg, "%s", dyag_last_error());                    \
        if (got_ != (want)) {                                                              \
            fprintf(stderr, "%s:%d: %s\n  returned %s (%s), expected %s\n", __FILE__,      \
                    __LINE__, #call, dyag_status_name(got_), check_msg,                    \
                    dyag_status_name(want));                                               \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

#define EXPECT_OK(call) EXPECT_STATUS(call, DYAG_STATUS_OK)

#define EXPECT(cond)                                                                       \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);            \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

/* The message of the last EXPECT_STATUS contains `part`. */
#define EXPECT_MESSAGE_HAS(part)                                                           \
    do {                                                                                   \
        if (strstr(check_msg, (part)) == NULL) {                                           \
            fprintf(stderr, "%s:%d: message \"%s\" does not contain \"%s\"\n", __FILE__,   \
                    __LINE__, check_msg, (part));                                          \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

#define EXPECT_MESSAGE_IS(text)                                                            \
    do {                                                                                   \
        if (strcmp(check_msg, (text)) != 0) {                                              \
            fprintf(stderr, "%s:%d: message \"%s\", expected \"%s\"\n", __FILE__,          \
                    __LINE__, check_msg, (text));                                          \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

#endif
