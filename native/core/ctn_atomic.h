/* ctn_atomic.h - C11 atomic members in headers that the C++ addon includes too.
 *
 * The core is C11 and uses _Atomic; the addon (C++17) only needs these structs to
 * compile, never touches their atomic members, and std::atomic<T> has the same
 * size and layout as _Atomic T for the lock-free types used here. */
#ifndef CTN_ATOMIC_H
#define CTN_ATOMIC_H

#ifdef __cplusplus
extern "C++" { /* the addon includes the core's headers inside extern "C" */
#include <atomic>
}
/** An atomic member of type @T. */
#define CTN_ATOMIC(T) std::atomic<T>
#else
#include <stdatomic.h>
/** An atomic member of type @T. */
#define CTN_ATOMIC(T) _Atomic T
#endif

#endif
