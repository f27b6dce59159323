
/*
 * Copyright (C) Kianax
 */


#ifndef _FUZZ_CHECK_H_INCLUDED_
#define _FUZZ_CHECK_H_INCLUDED_


#include <stdio.h>
#include <stdlib.h>


/* an assert that survives NDEBUG: a broken invariant is a crash */
#define check(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #cond, __FILE__,    \
                    __LINE__);                                                \
            abort();                                                          \
        }                                                                     \
    } while (0)


int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);


#endif /* _FUZZ_CHECK_H_INCLUDED_ */
