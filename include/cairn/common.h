/* SPDX-License-Identifier: MIT */
/* Visibility and attribute macros shared by every public cairn header. */
#ifndef CAIRN_COMMON_H
#define CAIRN_COMMON_H

#if defined(__GNUC__)
#define CAIRN_API __attribute__((visibility("default")))
#define CAIRN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CAIRN_API
#define CAIRN_PRINTF(f, a)
#endif

#endif
