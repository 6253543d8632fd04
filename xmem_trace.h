/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xmem: tracepoints of the pager (fault, fetch, evict, write-back), under
 * events/xmem/ in tracefs.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM xmem

#if !defined(_XMEM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _XMEM_TRACE_H

#include <linux/string.h>
#include <linux/tracepoint.h>

#include "xmem_proto.h"

TRACE_EVENT(xmem_fault,
	    TP_PROTO(const char *region, pgoff_t index, bool write, bool hit,
		     u64 lat_ns),
	    TP_ARGS(region, index, write, hit, lat_ns),
	    TP_STRUCT__entry(__array(char, region, XMEM_NAME_MAX)
			     __field(pgoff_t, index)
			     __field(bool, write)
			     __field(bool, hit)
			     __field(u64, lat_ns)),
	    TP_fast_assign(strscpy(__entry->region, region, XMEM_NAME_MAX);
			   __entry->index = index;
			   __entry->write = write;
			   __entry->hit = hit;
			   __entry->lat_ns = lat_ns;),
	    TP_printk("region=%s page=%lu %s %s lat_ns=%llu",
		      __entry->region, (unsigned long)__entry->index,
		      __entry->write ? "write" : "read",
		      __entry->hit ? "hit" : "miss", __entry->lat_ns)
);

TRACE_EVENT(xmem_fetch,
	    TP_PROTO(const char *region, pgoff_t portion, unsigned int nr,
		     bool readahead, int ret),
	    TP_ARGS(region, portion, nr, readahead, ret),
	    TP_STRUCT__entry(__array(char, region, XMEM_NAME_MAX)
			     __field(pgoff_t, portion)
			     __field(unsigned int, nr)
			     __field(bool, readahead)
			     __field(int, ret)),
	    TP_fast_assign(strscpy(__entry->region, region, XMEM_NAME_MAX);
			   __entry->portion = portion;
			   __entry->nr = nr;
			   __entry->readahead = readahead;
			   __entry->ret = ret;),
	    TP_printk("region=%s portion=%lu portions=%u%s ret=%d",
		      __entry->region, (unsigned long)__entry->portion,
		      __entry->nr, __entry->readahead ? " readahead" : "",
		      __entry->ret)
);

TRACE_EVENT(xmem_evict,
	    TP_PROTO(const char *region, pgoff_t portion, bool dirty),
	    TP_ARGS(region, portion, dirty),
	    TP_STRUCT__entry(__array(char, region, XMEM_NAME_MAX)
			     __field(pgoff_t, portion)
			     __field(bool, dirty)),
	    TP_fast_assign(strscpy(__entry->region, region, XMEM_NAME_MAX);
			   __entry->portion = portion;
			   __entry->dirty = dirty;),
	    TP_printk("region=%s portion=%lu %s", __entry->region,
		      (unsigned long)__entry->portion,
		      __entry->dirty ? "dirty" : "clean")
);

TRACE_EVENT(xmem_writeback,
	    TP_PROTO(const char *region, unsigned int nr_pages, int ret),
	    TP_ARGS(region, nr_pages, ret),
	    TP_STRUCT__entry(__array(char, region, XMEM_NAME_MAX)
			     __field(unsigned int, nr_pages)
			     __field(int, ret)),
	    TP_fast_assign(strscpy(__entry->region, region, XMEM_NAME_MAX);
			   __entry->nr_pages = nr_pages;
			   __entry->ret = ret;),
	    TP_printk("region=%s pages=%u ret=%d", __entry->region,
		      __entry->nr_pages, __entry->ret)
);

#endif /* _XMEM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE xmem_trace
#include <trace/define_trace.h>
