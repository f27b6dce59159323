
/*
 * Copyright (C) Kianax
 *
 * What the tests of account transactions (kx_txn, kx_acct_cache) share;
 * include after kx_test_dec.h.
 */


#ifndef _KX_TEST_TXN_H_INCLUDED_
#define _KX_TEST_TXN_H_INCLUDED_


#include <stdio.h>
#include <string.h>

#include "trading/kx_txn.h"


static int  kx_test_uuid_n;


/* ids 00000000-0000-4000-8000-000000000001, ...2, ... */
static inline void
fake_uuid(char out[KX_TXN_UUID_LEN + 1])
{
    snprintf(out, KX_TXN_UUID_LEN + 1,
             "00000000-0000-4000-8000-%012d", ++kx_test_uuid_n);
}


/* a GTC order in AAPL; limit may be NULL */
static inline void
order_init(kx_order_t *o, kx_side_e side, kx_order_type_e type,
    const char *qty, const char *limit)
{
    kx_order_init(o);
    strcpy(o->symbol, "AAPL");
    o->side = side;
    o->type = type;
    o->tif = KX_TIF_GTC;
    o->quantity = dec(qty);

    if (limit) {
        o->limit_price = dec(limit);
    }
}


#endif /* _KX_TEST_TXN_H_INCLUDED_ */
