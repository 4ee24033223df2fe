/*
 * procq_native: the few system calls procq needs that JavaScript cannot make, through plain Node-API (C, no V8).
 *
 *   shared memory   shmCreate / shmOpen / shmUnlink / shmCommit    POSIX shm_open + ftruncate + mmap(MAP_SHARED),
 *                                                                   exposed as an external ArrayBuffer; commit is
 *                                                                   posix_fallocate (a full /dev/shm is a clean
 *                                                                   ENOSPC error instead of a SIGBUS later)
 *   futex           futexWait / futexWake                          process-shared futex on a word of an Int32Array
 *                   futexWaitAsync / futexCancel                   the same wait on a dedicated native thread,
 *                                                                   settled through a threadsafe function
 *   threads         gettid / threadAlive / getppid / setParentDeathSignal
 *   memory release  shmRelease                                     fallocate(PUNCH_HOLE): gives a drained ring's
 *                                                                   pages back to /dev/shm
 *   tracker         trackerPipe / setInheritable                   the pipe whose EOF tells the resource tracker
 *                                                                   (src/memory/tracker.ts) that a tree has ended
 *   waiting         threadStartTime                                owner identity (tid, start time), src/wait/
 *   allocator       keepLargeAllocationsWarm                       glibc mallopt: large blocks served from the
 *                                                                   heap and kept there (src/memory/allocator.ts)
 *                   adviseHugeHeap                                 madvise(MADV_HUGEPAGE) on the heap's growth
 *
 * Linux only (futex). Every function validates its arguments and throws a TypeError / RangeError for misuse and an
 * Error whose `code` is the errno name (ENOENT, ENOSPC, ...) for system failures.
 *
 * Async waits
 * -----------
 * Each pending futexWaitAsync occupies one native waiter thread (never the libuv pool: a futex wait would tie up
 * one of its 4 threads). JavaScript keeps at most one pending per (thread, word), shared by every async wait on that
 * word (src/wait/group.ts), so threads follow the number of words waited on, not the number of waits. Waiter threads are process-wide, detached, block all signals, and are kept idle for
 * IDLE_SECONDS for reuse. A waiter sleeps in futex_waitv(2) on two words: the shared word, and a private per-wait
 * `cancel_word`; futexCancel(id) sets cancel_word and wakes it, so a cancel never races with the thread entering the
 * kernel (the kernel re-checks both words atomically) and never disturbs other waiters of the shared word. Kernels
 * without futex_waitv (< 5.16) fall back to waiting in slices of FALLBACK_SLICE_MS and a cancel also wakes every
 * waiter of the shared word (spurious wake-ups, which callers tolerate).
 *
 * Per Node environment (main thread or worker) there is one threadsafe function (TSFN): ref'd while the env has a
 * pending wait, so a pending wait keeps the event loop alive, unref'd otherwise. Lifetime of a wait `req`:
 *
 *   JS thread: start ──> pool queue / new thread ──> waiter: futex ──> napi_call_threadsafe_function ──> JS thread:
 *              (env list, in_flight++)                                 (in_flight--)                   settle, free
 *
 * The env cleanup hook (worker exit / terminate, env teardown) sets `closing`, cancels every pending wait, and blocks
 * until in_flight == 0: after that no waiter thread touches the env or its TSFN again. Requests still queued in the
 * TSFN are freed by call_js (called with env == NULL, or with `closing` set) without calling into JavaScript.
 *
 * Segments created by this process are unlinked by an atexit handler (normal exit of the process, whichever thread
 * created them); segments of killed processes are swept by name from JavaScript (see src/memory/shm-segment.ts).
 */
#ifndef __linux__
#error "procq_native supports Linux only"
#endif

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>

/* Bumped whenever the JavaScript-visible surface changes; the loader refuses a stale build. */
#define PQ_ABI_VERSION 7

#define PQ_OK 0
#define PQ_NOT_EQUAL 1
#define PQ_TIMED_OUT 2

#define IDLE_SECONDS 10
#define MAX_IDLE_THREADS 16
#define WAITER_STACK_SIZE (256 * 1024)
#define FALLBACK_SLICE_MS 50
#define SYNC_SLICE_MS 50

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#define PQ_FUTEX2_SIZE_U32 0x02
#define PQ_FUTEX2_PRIVATE 128

struct pq_futex_waitv {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};

/* ------------------------------------------------------------------------------------------------------------ */
/* Errors                                                                                                          */

static const char *errno_name(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *n = strerrorname_np(err);
  if (n) return n;
#endif
  switch (err) {
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case ENOSPC: return "ENOSPC";
    case EACCES: return "EACCES";
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    case EINVAL: return "EINVAL";
    default: return "EIO";
  }
}

/* Throws an Error with `code` = errno name and a message "<what>: <strerror> (<code>)". Returns NULL. */
static napi_value throw_errno(napi_env env, int err, const char *what) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s (%s)", what, strerror(err), errno_name(err));
  napi_throw_error(env, errno_name(err), msg);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

#define NAPI_CALL(env, call)                                                                       \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      bool pending_ = false;                                                                       \
      napi_is_exception_pending((env), &pending_);                                                 \
      if (!pending_) napi_throw_error((env), "PROCQ_NAPI", "procq_native: Node-API call failed: " #call); \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

/* ------------------------------------------------------------------------------------------------------------ */
/* Argument helpers                                                                                                */

static bool get_double(napi_env env, napi_value v, double *out, const char *what) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "Expected `%s` to be a number", what);
    napi_throw_type_error(env, NULL, msg);
    return false;
  }
  return true;
}

/* A non-negative integer <= max. */
static bool get_index(napi_env env, napi_value v, double max, uint64_t *out, const char *what) {
  double d;
  if (!get_double(env, v, &d, what)) return false;
  if (!(d >= 0 && d <= max && d == floor(d))) {
    char msg[160];
    snprintf(msg, sizeof msg, "Expected `%s` to be an integer from 0 to %.0f, got %g", what, max, d);
    napi_throw_range_error(env, NULL, msg);
    return false;
  }
  *out = (uint64_t)d;
  return true;
}

/* The address of word `index` of an Int32Array. */
static bool get_word(napi_env env, napi_value arr, napi_value idx, int32_t **out) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, arr, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_int32_array) {
    napi_throw_type_error(env, NULL, "Expected an Int32Array");
    return false;
  }
  uint64_t i;
  if (!get_index(env, idx, length == 0 ? 0 : (double)(length - 1), &i, "index")) return false;
  if (length == 0) {
    napi_throw_range_error(env, NULL, "Expected a non-empty Int32Array");
    return false;
  }
  *out = (int32_t *)data + i;
  return true;
}

/* Shared-memory names: "/name", at most NAME_MAX bytes, no other '/'. */
static bool get_shm_name(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "Expected the segment name to be a string");
    return false;
  }
  if (len < 2 || len >= cap - 1 || buf[0] != '/' || strchr(buf + 1, '/') != NULL) {
    napi_throw_range_error(env, NULL, "Expected the segment name to be '/' followed by 1 to 254 characters without '/'");
    return false;
  }
  return true;
}

/* Converts a timeout in ms (Infinity / NaN: none; negative: 0) into an absolute CLOCK_MONOTONIC deadline.
 * Returns false when there is no deadline. */
static bool make_deadline(double ms, struct timespec *dl) {
  if (isnan(ms) || ms >= 1e13) return false;
  if (ms < 0) ms = 0;
  clock_gettime(CLOCK_MONOTONIC, dl);
  double whole = floor(ms / 1000.0);
  int64_t ns = (int64_t)((ms - whole * 1000.0) * 1e6);
  dl->tv_sec += (time_t)whole;
  dl->tv_nsec += ns;
  if (dl->tv_nsec >= 1000000000L) {
    dl->tv_sec += 1;
    dl->tv_nsec -= 1000000000L;
  }
  return true;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Mappings and created names (process-wide)                                                                        */

typedef struct mapping {
  void *addr;
  size_t size;
  int fd; /* kept open for posix_fallocate; O_CLOEXEC */
  struct mapping *next;
} mapping;

static pthread_mutex_t g_shm_mu = PTHREAD_MUTEX_INITIALIZER;
static mapping *g_mappings;        /* guarded by g_shm_mu */
static char **g_created;           /* names this process created and has not unlinked; guarded by g_shm_mu */
static size_t g_created_len, g_created_cap;
static pthread_once_t g_atexit_once = PTHREAD_ONCE_INIT;

static void unlink_created_at_exit(void) {
  /* Runs in exit(): other threads may still run, so take the lock (nobody holds it across a blocking call). */
  pthread_mutex_lock(&g_shm_mu);
  for (size_t i = 0; i < g_created_len; i++) {
    shm_unlink(g_created[i]);
    free(g_created[i]);
  }
  g_created_len = 0;
  pthread_mutex_unlock(&g_shm_mu);
}

static void register_atexit(void) { atexit(unlink_created_at_exit); }

static bool remember_created(const char *name) {
  pthread_once(&g_atexit_once, register_atexit);
  char *copy = strdup(name);
  if (!copy) return false;
  pthread_mutex_lock(&g_shm_mu);
  if (g_created_len == g_created_cap) {
    size_t cap = g_created_cap ? g_created_cap * 2 : 16;
    char **grown = realloc(g_created, cap * sizeof *grown);
    if (!grown) {
      pthread_mutex_unlock(&g_shm_mu);
      free(copy);
      return false;
    }
    g_created = grown;
    g_created_cap = cap;
  }
  g_created[g_created_len++] = copy;
  pthread_mutex_unlock(&g_shm_mu);
  return true;
}

static void forget_created(const char *name) {
  pthread_mutex_lock(&g_shm_mu);
  for (size_t i = 0; i < g_created_len; i++) {
    if (strcmp(g_created[i], name) == 0) {
      free(g_created[i]);
      g_created[i] = g_created[--g_created_len];
      break;
    }
  }
  pthread_mutex_unlock(&g_shm_mu);
}

static void finalize_mapping(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  mapping *m = hint;
  pthread_mutex_lock(&g_shm_mu);
  for (mapping **p = &g_mappings; *p; p = &(*p)->next) {
    if (*p == m) {
      *p = m->next;
      break;
    }
  }
  pthread_mutex_unlock(&g_shm_mu);
  munmap(m->addr, m->size);
  close(m->fd);
  free(m);
}

/* Maps fd (size bytes) and wraps it in an external ArrayBuffer that unmaps and closes on collection.
 * On failure throws, closes fd and returns NULL. */
static napi_value map_segment(napi_env env, int fd, size_t size, const char *name) {
  void *addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) {
    int err = errno;
    close(fd);
    char what[400];
    snprintf(what, sizeof what, "mmap of shared-memory segment %s (%zu bytes)", name, size);
    return throw_errno(env, err, what);
  }
  mapping *m = malloc(sizeof *m);
  if (!m) {
    munmap(addr, size);
    close(fd);
    return throw_errno(env, ENOMEM, "procq_native");
  }
  m->addr = addr;
  m->size = size;
  m->fd = fd;
  napi_value ab;
  if (napi_create_external_arraybuffer(env, addr, size, finalize_mapping, m, &ab) != napi_ok) {
    munmap(addr, size);
    close(fd);
    free(m);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending)
      napi_throw_error(env, "PROCQ_NATIVE_EXTERNAL",
                       "this Node.js build does not allow external ArrayBuffers (V8 sandbox?)");
    return NULL;
  }
  pthread_mutex_lock(&g_shm_mu);
  m->next = g_mappings;
  g_mappings = m;
  pthread_mutex_unlock(&g_shm_mu);
  return ab;
}

/* shmCreate(name, size): ArrayBuffer. O_CREAT|O_EXCL, mode 0600, zero-filled, nothing committed. */
static napi_value ShmCreate(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[256];
  if (argc < 2 || !get_shm_name(env, argv[0], name, sizeof name)) return argc < 2 ? throw_type(env, "shmCreate(name, size)") : NULL;
  uint64_t size;
  if (!get_index(env, argv[1], 140737488355328.0 /* 2^47 */, &size, "size")) return NULL;
  if (size == 0) return throw_range(env, "Expected `size` to be at least 1");
  int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    char what[400];
    snprintf(what, sizeof what, "shm_open(%s) to create a shared-memory segment", name);
    return throw_errno(env, errno, what);
  }
  if (ftruncate(fd, (off_t)size) != 0) {
    int err = errno;
    close(fd);
    shm_unlink(name);
    char what[400];
    snprintf(what, sizeof what, "ftruncate of shared-memory segment %s to %llu bytes", name,
             (unsigned long long)size);
    return throw_errno(env, err, what);
  }
  if (!remember_created(name)) {
    close(fd);
    shm_unlink(name);
    return throw_errno(env, ENOMEM, "procq_native");
  }
  napi_value ab = map_segment(env, fd, (size_t)size, name);
  if (!ab) {
    shm_unlink(name);
    forget_created(name);
  }
  return ab;
}

/* shmOpen(name): ArrayBuffer over the whole segment. */
static napi_value ShmOpen(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[256];
  if (argc < 1) return throw_type(env, "shmOpen(name)");
  if (!get_shm_name(env, argv[0], name, sizeof name)) return NULL;
  int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    char what[400];
    snprintf(what, sizeof what, "shm_open(%s) to attach a shared-memory segment", name);
    return throw_errno(env, errno, what);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "fstat of a shared-memory segment");
  }
  if (st.st_size <= 0) {
    close(fd);
    return throw_errno(env, EINVAL, "attaching a shared-memory segment of size 0 (not fully created?)");
  }
  return map_segment(env, fd, (size_t)st.st_size, name);
}

/* shmUnlink(name): true when removed, false when it did not exist. */
static napi_value ShmUnlink(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[256];
  if (argc < 1) return throw_type(env, "shmUnlink(name)");
  if (!get_shm_name(env, argv[0], name, sizeof name)) return NULL;
  forget_created(name);
  bool removed = true;
  if (shm_unlink(name) != 0) {
    if (errno != ENOENT) {
      char what[400];
      snprintf(what, sizeof what, "shm_unlink(%s)", name);
      return throw_errno(env, errno, what);
    }
    removed = false;
  }
  napi_value out;
  NAPI_CALL(env, napi_get_boolean(env, removed, &out));
  return out;
}

/* The arguments of shmCommit and shmRelease, `(arrayBuffer, offset, length)`: the file descriptor of the mapping the
 * ArrayBuffer views, and the byte range checked against its size. false with a JavaScript exception pending on bad
 * input. The fd stays open while the ArrayBuffer (an argument of the calling function, so reachable) is alive. */
static bool shm_range_args(napi_env env, napi_callback_info info, const char *usage, int *fd, uint64_t *off,
                           uint64_t *n) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc < 3) {
    throw_type(env, usage);
    return false;
  }
  bool is_ab = false;
  napi_is_arraybuffer(env, argv[0], &is_ab);
  void *data = NULL;
  size_t len = 0;
  if (!is_ab || napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok) {
    throw_type(env, "Expected an ArrayBuffer returned by shmCreate or shmOpen");
    return false;
  }
  if (!get_index(env, argv[1], (double)len, off, "offset")) return false;
  if (!get_index(env, argv[2], (double)(len - *off), n, "length")) return false;
  *fd = -1;
  pthread_mutex_lock(&g_shm_mu);
  for (mapping *m = g_mappings; m; m = m->next) {
    if (m->addr == data) {
      *fd = m->fd;
      break;
    }
  }
  pthread_mutex_unlock(&g_shm_mu);
  if (*fd < 0) {
    throw_type(env, "Expected an ArrayBuffer returned by shmCreate or shmOpen");
    return false;
  }
  return true;
}

/* shmCommit(arrayBuffer, offset, length): backs [offset, offset+length) with memory (posix_fallocate). */
static napi_value ShmCommit(napi_env env, napi_callback_info info) {
  int fd;
  uint64_t off, n;
  if (!shm_range_args(env, info, "shmCommit(buffer, offset, length)", &fd, &off, &n)) return NULL;
  if (n == 0) return NULL;
  int err;
  do err = posix_fallocate(fd, (off_t)off, (off_t)n);
  while (err == EINTR);
  if (err != 0) {
    char what[256];
    if (err == ENOSPC)
      snprintf(what, sizeof what,
               "cannot commit %llu bytes of shared memory: /dev/shm is full (free space there or mount it larger)",
               (unsigned long long)n);
    else
      snprintf(what, sizeof what, "posix_fallocate of %llu bytes of shared memory", (unsigned long long)n);
    return throw_errno(env, err, what);
  }
  return NULL;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Futex: synchronous                                                                                               */

static napi_value result_value(napi_env env, int r);

/* Waits while *addr == expected, until dl (NULL: none). Returns PQ_* or -errno. EINTR restarts with the same
 * absolute deadline; a value change seen after an interruption counts as a wake-up ('ok'). */
static int futex_wait_sync(int32_t *addr, int32_t expected, const struct timespec *dl) {
  bool interrupted = false;
  for (;;) {
    long rc = syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, expected, dl, NULL, FUTEX_BITSET_MATCH_ANY);
    if (rc == 0) return PQ_OK;
    switch (errno) {
      case EAGAIN: return interrupted ? PQ_OK : PQ_NOT_EQUAL;
      case ETIMEDOUT: return PQ_TIMED_OUT;
      case EINTR: interrupted = true; continue;
      default: return -errno;
    }
  }
}

static bool env_running(napi_env env);

/* futexWait(i32, index, expected, timeoutMs): 'ok' | 'not-equal' | 'timed-out'. Blocks the calling thread.
 * A wait longer than SYNC_SLICE_MS is cut into slices, between which it checks that its worker is not being
 * terminated (worker.terminate() cannot interrupt a system call; V8's own Atomics.wait is interruptible). */
static napi_value FutexWait(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return throw_type(env, "futexWait(i32, index, expected, timeoutMs)");
  int32_t *addr;
  if (!get_word(env, argv[0], argv[1], &addr)) return NULL;
  int32_t expected;
  if (napi_get_value_int32(env, argv[2], &expected) != napi_ok) return throw_type(env, "Expected `expected` to be a number");
  double ms;
  if (!get_double(env, argv[3], &ms, "timeoutMs")) return NULL;
  struct timespec dl, slice;
  bool has_dl = make_deadline(ms, &dl);
  bool sliced = false;
  for (;;) {
    make_deadline(SYNC_SLICE_MS, &slice);
    bool last = has_dl && (dl.tv_sec < slice.tv_sec || (dl.tv_sec == slice.tv_sec && dl.tv_nsec <= slice.tv_nsec));
    int r = futex_wait_sync(addr, expected, last ? &dl : &slice);
    if (r == PQ_TIMED_OUT && !last) {
      if (!env_running(env)) return NULL; /* being terminated: the result no longer matters */
      sliced = true;
      continue;
    }
    if (r < 0) return throw_errno(env, -r, "futex wait");
    /* A value change seen in a later slice happened while we waited: a wake-up, not 'not-equal'. */
    return result_value(env, r == PQ_NOT_EQUAL && sliced ? PQ_OK : r);
  }
}

/* futexWake(i32, index, count): number of waiters woken. count: Infinity or >= 2^31-1 means all. */
static napi_value FutexWake(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "futexWake(i32, index, count)");
  int32_t *addr;
  if (!get_word(env, argv[0], argv[1], &addr)) return NULL;
  double c;
  if (!get_double(env, argv[2], &c, "count")) return NULL;
  int count = !(c >= 0) ? 0 : c >= (double)INT_MAX ? INT_MAX : (int)c;
  long rc = syscall(SYS_futex, addr, FUTEX_WAKE, count, NULL, NULL, 0);
  if (rc < 0) return throw_errno(env, errno, "futex wake");
  napi_value out;
  NAPI_CALL(env, napi_create_int32(env, (int32_t)rc, &out));
  return out;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Futex: asynchronous                                                                                              */

typedef struct env_state env_state;

typedef struct req {
  /* Set on the JS thread before the request is handed over; read-only afterwards. */
  int32_t *addr;
  int32_t expected;
  /* A word counting sleepers in the kernel (futexWaitAsync's `parked`), or NULL: +1 before the hand-over, -1 by
   * the waiter thread as soon as its wait ends, so a waker that reads 0 may skip its futex wake (see wait-word.ts). */
  int32_t *parked;
  bool has_deadline;
  struct timespec deadline;
  double id;
  napi_deferred deferred;
  napi_ref keep; /* the Int32Array: keeps the mapping alive while a thread waits on it */
  env_state *es;
  /* 0 until cancelled; a private futex word the waiter also sleeps on. */
  _Atomic uint32_t cancel_word;
  /* Written by the waiter thread before it posts the request back. */
  int result;
  /* Links: `next_job` guarded by g_pool_mu; `prev`/`next` (env list) JS thread only. */
  struct req *next_job;
  struct req *prev, *next;
} req;

struct env_state {
  napi_threadsafe_function tsfn;
  napi_ref results; /* ['ok', 'not-equal', 'timed-out'] */
  napi_ref noop;    /* a JavaScript function `() => 0`, see env_running */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int in_flight; /* requests handed to the pool and not yet posted back; guarded by mu */
  bool closing;  /* set by the cleanup hook; written under mu on the JS thread */
  /* JS thread only: */
  uint32_t pending;
  req *head;
  uint64_t waits_started;
};

static pthread_mutex_t g_pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_pool_cv;
static req *g_job_head, *g_job_tail; /* guarded by g_pool_mu */
static int g_jobs_queued, g_idle_threads, g_total_threads;
static pthread_once_t g_pool_once = PTHREAD_ONCE_INIT;
static _Atomic int g_have_waitv = 1; /* cleared on ENOSYS */

static void pool_init(void) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&g_pool_cv, &attr);
  pthread_condattr_destroy(&attr);
}

/* False once this thread's environment is being terminated: calling a JavaScript function makes V8 act on a pending
 * TerminateExecution (interrupts are checked on function entry), which then fails the call. */
static bool env_running(napi_env env) {
  env_state *es;
  napi_value fn, recv, out;
  if (napi_get_instance_data(env, (void **)&es) != napi_ok || es->closing) return false;
  if (napi_get_reference_value(env, es->noop, &fn) != napi_ok || napi_get_undefined(env, &recv) != napi_ok) return false;
  return napi_call_function(env, recv, fn, 0, NULL, &out) == napi_ok;
}

static napi_value result_value(napi_env env, int r) {
  env_state *es;
  napi_value arr, out;
  NAPI_CALL(env, napi_get_instance_data(env, (void **)&es));
  NAPI_CALL(env, napi_get_reference_value(env, es->results, &arr));
  NAPI_CALL(env, napi_get_element(env, arr, (uint32_t)r, &out));
  return out;
}

/* The wait itself, on a waiter thread. Returns PQ_*. */
static int run_wait(req *r) {
  bool interrupted = false;
  for (;;) {
    if (atomic_load(&r->cancel_word)) return PQ_OK;
    if (atomic_load_explicit(&g_have_waitv, memory_order_relaxed)) {
      struct pq_futex_waitv w[2];
      memset(w, 0, sizeof w);
      w[0].val = (uint32_t)r->expected;
      w[0].uaddr = (uintptr_t)r->addr;
      w[0].flags = PQ_FUTEX2_SIZE_U32;
      w[1].val = 0;
      w[1].uaddr = (uintptr_t)&r->cancel_word;
      w[1].flags = PQ_FUTEX2_SIZE_U32 | PQ_FUTEX2_PRIVATE;
      long rc = syscall(SYS_futex_waitv, w, 2, 0, r->has_deadline ? &r->deadline : NULL, CLOCK_MONOTONIC);
      if (rc >= 0) return PQ_OK; /* woken: by a notify, or by a cancel */
      switch (errno) {
        case EAGAIN:
          /* A word differs: the shared one (not-equal, or a change after an interruption), or cancel_word. */
          return (interrupted || atomic_load(&r->cancel_word)) ? PQ_OK : PQ_NOT_EQUAL;
        case ETIMEDOUT: return PQ_TIMED_OUT;
        case EINTR: interrupted = true; continue;
        case ENOSYS: atomic_store(&g_have_waitv, 0); continue;
        default: return PQ_OK; /* EFAULT etc.: report a (spurious) wake-up; the caller re-checks */
      }
    }
    /* Fallback without futex_waitv: wait in slices so a cancel that raced with entering the kernel is seen. */
    struct timespec slice;
    make_deadline(FALLBACK_SLICE_MS, &slice);
    bool last = r->has_deadline && (r->deadline.tv_sec < slice.tv_sec ||
                                    (r->deadline.tv_sec == slice.tv_sec && r->deadline.tv_nsec <= slice.tv_nsec));
    int res = futex_wait_sync(r->addr, r->expected, last ? &r->deadline : &slice);
    if (res == PQ_TIMED_OUT && !last) {
      interrupted = true; /* a later value change counts as a wake-up */
      continue;
    }
    if (res == PQ_NOT_EQUAL && interrupted) return PQ_OK;
    return res < 0 ? PQ_OK : res;
  }
}

static void finish_job(req *r) {
  env_state *es = r->es;
  r->result = run_wait(r);
  /* The -1 is done by the kernel (FUTEX_WAKE_OP, waking nobody): the segment may have been unmapped meanwhile (a
   * queue closed with a wait pending), which is EFAULT there instead of a crash here. */
  if (r->parked)
    syscall(SYS_futex, r->parked, FUTEX_WAKE_OP, 0, (void *)0, r->parked, FUTEX_OP(FUTEX_OP_ADD, -1, FUTEX_OP_CMP_EQ, 0));
  /* After this call the JS thread may free r at any moment: do not touch r below. */
  napi_status st = napi_call_threadsafe_function(es->tsfn, r, napi_tsfn_nonblocking);
  (void)st; /* only fails once the env is closing; then the request is leaked rather than freed under the env */
  pthread_mutex_lock(&es->mu);
  if (--es->in_flight == 0 && es->closing) pthread_cond_broadcast(&es->cv);
  pthread_mutex_unlock(&es->mu);
}

static void *waiter_main(void *arg) {
  req *job = arg;
  for (;;) {
    finish_job(job);
    pthread_mutex_lock(&g_pool_mu);
    if (g_idle_threads >= MAX_IDLE_THREADS && g_job_head == NULL) {
      g_total_threads--;
      pthread_mutex_unlock(&g_pool_mu);
      return NULL;
    }
    while (g_job_head == NULL) {
      struct timespec until;
      clock_gettime(CLOCK_MONOTONIC, &until);
      until.tv_sec += IDLE_SECONDS;
      g_idle_threads++;
      int rc = pthread_cond_timedwait(&g_pool_cv, &g_pool_mu, &until);
      g_idle_threads--;
      if (rc == ETIMEDOUT && g_job_head == NULL) {
        g_total_threads--;
        pthread_mutex_unlock(&g_pool_mu);
        return NULL;
      }
    }
    job = g_job_head;
    g_job_head = job->next_job;
    if (!g_job_head) g_job_tail = NULL;
    g_jobs_queued--;
    pthread_mutex_unlock(&g_pool_mu);
  }
}

/* Hands r to an idle waiter thread, or starts a new one. Returns 0 or an errno. */
static int pool_submit(req *r) {
  pthread_once(&g_pool_once, pool_init);
  pthread_mutex_lock(&g_pool_mu);
  if (g_jobs_queued < g_idle_threads) {
    /* Every queued job has an idle thread of its own that has not yet picked one up. */
    r->next_job = NULL;
    if (g_job_tail) g_job_tail->next_job = r;
    else g_job_head = r;
    g_job_tail = r;
    g_jobs_queued++;
    pthread_cond_signal(&g_pool_cv);
    pthread_mutex_unlock(&g_pool_mu);
    return 0;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, WAITER_STACK_SIZE);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* the new thread inherits "all blocked": signals go to Node's threads */
  pthread_t t;
  int err = pthread_create(&t, &attr, waiter_main, r);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (err == 0) g_total_threads++;
  pthread_mutex_unlock(&g_pool_mu);
  return err;
}

static void cancel_req(req *r) {
  atomic_store(&r->cancel_word, 1);
  syscall(SYS_futex, &r->cancel_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  if (!atomic_load_explicit(&g_have_waitv, memory_order_relaxed))
    syscall(SYS_futex, r->addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void unlink_req(env_state *es, req *r) {
  if (r->prev) r->prev->next = r->next;
  else es->head = r->next;
  if (r->next) r->next->prev = r->prev;
}

/* On the JS thread (env != NULL), or at TSFN teardown (env == NULL: free only). */
static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  req *r = data;
  if (env == NULL) {
    free(r);
    return;
  }
  env_state *es = r->es;
  if (es->closing) {
    free(r); /* the env is being torn down: nobody awaits the promise any more */
    return;
  }
  unlink_req(es, r);
  if (--es->pending == 0) napi_unref_threadsafe_function(env, es->tsfn);
  napi_value v = result_value(env, r->result);
  if (v) napi_resolve_deferred(env, r->deferred, v);
  napi_delete_reference(env, r->keep);
  free(r);
}

/* futexWaitAsync(i32, index, expected, timeoutMs, id, parked = -1): Promise<'ok' | 'not-equal' | 'timed-out'>.
 * `id` is any number unique among this thread's pending waits; futexCancel(id) ends the wait early ('ok').
 * `parked` (>= 0): the index of a word of the same array raised by one while the wait is in progress. */
static napi_value FutexWaitAsync(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throw_type(env, "futexWaitAsync(i32, index, expected, timeoutMs, id)");
  int32_t *addr;
  if (!get_word(env, argv[0], argv[1], &addr)) return NULL;
  int32_t expected;
  if (napi_get_value_int32(env, argv[2], &expected) != napi_ok) return throw_type(env, "Expected `expected` to be a number");
  double ms, id;
  if (!get_double(env, argv[3], &ms, "timeoutMs") || !get_double(env, argv[4], &id, "id")) return NULL;
  int32_t *parked = NULL;
  if (argc >= 6) {
    double pi;
    if (!get_double(env, argv[5], &pi, "parked")) return NULL;
    if (pi >= 0 && !get_word(env, argv[0], argv[5], &parked)) return NULL;
  }
  env_state *es;
  NAPI_CALL(env, napi_get_instance_data(env, (void **)&es));

  req *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, ENOMEM, "futexWaitAsync");
  r->addr = addr;
  r->expected = expected;
  r->has_deadline = make_deadline(ms, &r->deadline);
  r->id = id;
  r->es = es;
  r->parked = parked;
  napi_value promise;
  if (napi_create_promise(env, &r->deferred, &promise) != napi_ok ||
      napi_create_reference(env, argv[0], 1, &r->keep) != napi_ok) {
    free(r); /* a created deferred without a settle is collected with its promise */
    return throw_errno(env, ENOMEM, "futexWaitAsync");
  }
  pthread_mutex_lock(&es->mu);
  es->in_flight++;
  pthread_mutex_unlock(&es->mu);
  if (parked) __atomic_fetch_add(parked, 1, __ATOMIC_SEQ_CST);
  int err = pool_submit(r);
  if (err != 0) {
    if (parked) __atomic_fetch_sub(parked, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&es->mu);
    es->in_flight--;
    pthread_mutex_unlock(&es->mu);
    napi_delete_reference(env, r->keep);
    napi_value reason;
    char msg[160];
    snprintf(msg, sizeof msg, "cannot start a thread for an asynchronous wait: %s (%s)", strerror(err),
             errno_name(err));
    napi_value code, m;
    napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
    napi_create_error(env, code, m, &reason);
    napi_reject_deferred(env, r->deferred, reason);
    free(r);
    return promise;
  }
  r->next = es->head;
  r->prev = NULL;
  if (es->head) es->head->prev = r;
  es->head = r;
  if (es->pending++ == 0) napi_ref_threadsafe_function(env, es->tsfn);
  es->waits_started++;
  return promise;
}

/* futexCancel(id): true when a pending wait with that id was found (it then resolves 'ok' soon). */
static napi_value FutexCancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double id;
  if (argc < 1 || !get_double(env, argv[0], &id, "id")) return argc < 1 ? throw_type(env, "futexCancel(id)") : NULL;
  env_state *es;
  NAPI_CALL(env, napi_get_instance_data(env, (void **)&es));
  bool found = false;
  for (req *r = es->head; r; r = r->next) {
    if (r->id == id) {
      cancel_req(r);
      found = true;
      break;
    }
  }
  napi_value out;
  NAPI_CALL(env, napi_get_boolean(env, found, &out));
  return out;
}

/* stats(): { waiterThreads, idleWaiterThreads, pendingWaits, waitsStarted, futexWaitv } (diagnostics, tests). */
static napi_value Stats(napi_env env, napi_callback_info info) {
  (void)info;
  env_state *es;
  NAPI_CALL(env, napi_get_instance_data(env, (void **)&es));
  pthread_once(&g_pool_once, pool_init);
  pthread_mutex_lock(&g_pool_mu);
  int total = g_total_threads, idle = g_idle_threads;
  pthread_mutex_unlock(&g_pool_mu);
  napi_value out, v;
  NAPI_CALL(env, napi_create_object(env, &out));
  NAPI_CALL(env, napi_create_int32(env, total, &v));
  NAPI_CALL(env, napi_set_named_property(env, out, "waiterThreads", v));
  NAPI_CALL(env, napi_create_int32(env, idle, &v));
  NAPI_CALL(env, napi_set_named_property(env, out, "idleWaiterThreads", v));
  NAPI_CALL(env, napi_create_uint32(env, es->pending, &v));
  NAPI_CALL(env, napi_set_named_property(env, out, "pendingWaits", v));
  NAPI_CALL(env, napi_create_double(env, (double)es->waits_started, &v));
  NAPI_CALL(env, napi_set_named_property(env, out, "waitsStarted", v));
  NAPI_CALL(env, napi_get_boolean(env, atomic_load(&g_have_waitv) != 0, &v));
  NAPI_CALL(env, napi_set_named_property(env, out, "futexWaitv", v));
  return out;
}

/* Env teardown (worker exit or terminate, or the main env being freed): cancel, then wait out every waiter thread
 * still working for this env, so none touches the env or its TSFN afterwards. */
static void env_cleanup(void *arg) {
  env_state *es = arg;
  pthread_mutex_lock(&es->mu);
  es->closing = true;
  pthread_mutex_unlock(&es->mu);
  for (req *r = es->head; r; r = r->next) cancel_req(r);
  pthread_mutex_lock(&es->mu);
  while (es->in_flight > 0) pthread_cond_wait(&es->cv, &es->mu);
  pthread_mutex_unlock(&es->mu);
}

/* The TSFN is finalized at env teardown, after env_cleanup (hooks run in reverse order of registration). */
static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  env_state *es = data;
  pthread_mutex_destroy(&es->mu);
  pthread_cond_destroy(&es->cv);
  free(es);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Threads and processes                                                                                            */

static napi_value Gettid(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  NAPI_CALL(env, napi_create_int32(env, (int32_t)syscall(SYS_gettid), &out));
  return out;
}

static napi_value Getppid(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  NAPI_CALL(env, napi_create_int32(env, (int32_t)getppid(), &out));
  return out;
}

/* _exit(code): ends the process at once, as Python's child ends with os._exit after its own clean-up. Node's
 * process.exit() shuts the platform's worker threads down before the heap, and a background TurboFan job that is
 * waiting for a garbage collection at that moment waits for ever (Node 20: the main thread is in
 * WorkerThreadsTaskRunner::Shutdown, joining it): a child that had finished its work never exited. */
static napi_value ExitNow(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t code = 0;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 1) NAPI_CALL(env, napi_get_value_int32(env, argv[0], &code));
  unlink_created_at_exit(); /* what exit() would have run: the segments this process created */
  _exit(code & 0xff);
  return NULL;
}

/* Alive = exists and is neither a zombie nor dead. kill(tid, 0) alone says "alive" for a zombie child that its
 * parent has not reaped (e.g. because the parent is blocked in a synchronous wait). */
static bool thread_alive(int tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ESRCH) return false;
    return kill(tid, 0) == 0 || errno == EPERM; /* /proc unusable (hidepid?): best effort */
  }
  char buf[512];
  ssize_t n;
  do n = read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0) return false; /* ESRCH while reading: gone */
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* "pid (comm) S ...": comm may contain ')' */
  if (!p || p[1] != ' ') return true;
  char state = p[2];
  return !(state == 'Z' || state == 'X' || state == 'x');
}

static napi_value ThreadAlive(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "threadAlive(tid)");
  uint64_t tid;
  if (!get_index(env, argv[0], (double)INT_MAX, &tid, "tid")) return NULL;
  napi_value out;
  NAPI_CALL(env, napi_get_boolean(env, tid > 0 && thread_alive((int)tid), &out));
  return out;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Owner identity (the waiting layer, src/wait/)                                                       */

/* The start time of thread `tid` (clock ticks since boot, field 22 of /proc/<tid>/stat), or -1 when the thread does
 * not exist or is a zombie. A tid alone is recycled by the kernel; (tid, start time) names one thread for ever. */
static double thread_start_time(int tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[1024];
  ssize_t n;
  do n = read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* "pid (comm) S ...": comm may contain ')' */
  if (!p || p[1] != ' ') return -1;
  char state = p[2];
  if (state == 'Z' || state == 'X' || state == 'x') return -1;
  /* p + 2 is field 3 (state); field 22 is 19 spaces further. */
  char *f = p + 2;
  for (int i = 0; i < 19 && f; i++) {
    f = strchr(f, ' ');
    if (f) f++;
  }
  if (!f) return -1;
  return (double)strtoull(f, NULL, 10);
}

/* threadStartTime(tid): the start time of thread `tid` in clock ticks since boot, -1 when gone or a zombie. */
static napi_value ThreadStartTime(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "threadStartTime(tid)");
  uint64_t tid;
  if (!get_index(env, argv[0], (double)INT_MAX, &tid, "tid")) return NULL;
  napi_value out;
  NAPI_CALL(env, napi_create_double(env, tid > 0 ? thread_start_time((int)tid) : -1, &out));
  return out;
}

/* setParentDeathSignal(signo): prctl(PR_SET_PDEATHSIG). Note: fires when the parent *thread* that spawned this
 * process exits, not only the parent process. 0 clears it. */
static napi_value SetParentDeathSignal(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "setParentDeathSignal(signo)");
  uint64_t signo;
  if (!get_index(env, argv[0], 64, &signo, "signo")) return NULL;
  if (prctl(PR_SET_PDEATHSIG, (unsigned long)signo, 0, 0, 0) != 0) return throw_errno(env, errno, "prctl(PR_SET_PDEATHSIG)");
  return NULL;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Memory release                                                                                                   */

/*
 * keepLargeAllocationsWarm(mmapMax, trimAt, keep): glibc's malloc serves blocks up to `mmapMax` bytes from its heap
 * instead of a fresh mmap each (M_MMAP_THRESHOLD), returns freed heap memory to the kernel only when more than
 * `trimAt` bytes lie free at its top (M_TRIM_THRESHOLD), and then keeps `keep` of them (M_TOP_PAD). Returns whether
 * glibc took all three (false on other C libraries). Process-wide; see src/memory/allocator.ts for why.
 */
static napi_value KeepLargeAllocationsWarm(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "keepLargeAllocationsWarm(mmapMax, trimAt, keep) takes three numbers");
  int64_t v[3];
  for (int i = 0; i < 3; i++) {
    if (napi_get_value_int64(env, argv[i], &v[i]) != napi_ok) return throw_type(env, "expected a number");
    if (v[i] < 0 || v[i] > INT_MAX) return throw_range(env, "expected a byte count from 0 to 2^31 - 1");
  }
  bool ok = false;
#ifdef __GLIBC__
  ok = mallopt(M_MMAP_THRESHOLD, (int)v[0]) == 1;
  ok = (mallopt(M_TRIM_THRESHOLD, (int)v[1]) == 1) && ok;
  ok = (mallopt(M_TOP_PAD, (int)v[2]) == 1) && ok;
#endif
  napi_value out;
  NAPI_CALL(env, napi_get_boolean(env, ok, &out));
  return out;
}

/*
 * adviseHugeHeap(): asks for transparent huge pages (madvise MADV_HUGEPAGE) on the part of the heap (brk) that has
 * not been advised yet, so that memory malloc takes from there is faulted in 2 MiB at a time instead of 4 KiB (on a
 * virtual machine each fault is also a host exit: measured 100 MiB of fresh heap 560-700 ms in 4 KiB pages,
 * 320-410 ms advised). A grown heap is a new mapping without the advice, so this is called after each large
 * allocation; it makes a system call only when the heap's end has moved. The heap's start is read once from
 * /proc/self/maps. Returns the bytes newly advised (0: nothing to do, or no heap, or refused: advice only).
 */
static pthread_mutex_t huge_heap_lock = PTHREAD_MUTEX_INITIALIZER; /* worker threads call it too */
static bool huge_heap_looked = false;
static uintptr_t huge_heap_start = 0;
static uintptr_t huge_heap_done = 0;

static uintptr_t heap_start(void) {
  FILE *f = fopen("/proc/self/maps", "re");
  if (f == NULL) return 0;
  char line[512];
  uintptr_t start = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strstr(line, "[heap]") == NULL) continue;
    unsigned long a = 0;
    if (sscanf(line, "%lx-", &a) == 1) start = (uintptr_t)a;
    break;
  }
  fclose(f);
  return start;
}

static napi_value AdviseHugeHeap(napi_env env, napi_callback_info info) {
  (void)info;
  double advised = 0;
  pthread_mutex_lock(&huge_heap_lock);
  uintptr_t end = (uintptr_t)sbrk(0) & ~(uintptr_t)4095;
  if (!huge_heap_looked) {
    huge_heap_looked = true; /* once: a process without a [heap] mapping is left alone */
    huge_heap_start = heap_start();
    huge_heap_done = huge_heap_start;
  }
  if (huge_heap_start != 0 && end > huge_heap_start && end != huge_heap_done) {
    /* A heap trimmed below what was advised keeps its advice on what is left; only growth needs a call. */
    uintptr_t from = end > huge_heap_done ? huge_heap_done : end;
    if (end > from && madvise((void *)from, end - from, MADV_HUGEPAGE) == 0) advised = (double)(end - from);
    huge_heap_done = end;
  }
  pthread_mutex_unlock(&huge_heap_lock);
  napi_value out;
  NAPI_CALL(env, napi_create_double(env, advised, &out));
  return out;
}

/* shmRelease(arrayBuffer, offset, length): gives the pages of [offset, offset+length) back (fallocate PUNCH_HOLE,
 * KEEP_SIZE); they read as zeros afterwards and are backed again by shmCommit or on first touch. false when the
 * file system cannot punch holes (nothing released). */
static napi_value ShmRelease(napi_env env, napi_callback_info info) {
  int fd;
  uint64_t off, n;
  if (!shm_range_args(env, info, "shmRelease(buffer, offset, length)", &fd, &off, &n)) return NULL;
  bool done = true;
  if (n > 0) {
    int r;
    do r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)n);
    while (r != 0 && errno == EINTR);
    if (r != 0) {
      if (errno != EOPNOTSUPP && errno != ENOSYS) return throw_errno(env, errno, "fallocate(PUNCH_HOLE) of shared memory");
      done = false;
    }
  }
  napi_value out;
  NAPI_CALL(env, napi_get_boolean(env, done, &out));
  return out;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Resource tracker                                                                                                 */

/* trackerPipe(): [readFd, writeFd], both close-on-exec. The tracker gets the read end as its stdin; the write end is
 * then made inheritable (setInheritable) so that every process of the tree holds it, and the tracker reads EOF only
 * when the last of them has ended, however it ended. */
static napi_value TrackerPipe(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return throw_errno(env, errno, "pipe2 for the resource tracker");
  napi_value out, v;
  NAPI_CALL(env, napi_create_array_with_length(env, 2, &out));
  for (uint32_t i = 0; i < 2; i++) {
    NAPI_CALL(env, napi_create_int32(env, fds[i], &v));
    NAPI_CALL(env, napi_set_element(env, out, i, v));
  }
  return out;
}

/* setInheritable(fd, inheritable): clears (or sets) FD_CLOEXEC on fd. */
static napi_value SetInheritable(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "setInheritable(fd, inheritable)");
  uint64_t fd;
  if (!get_index(env, argv[0], (double)INT_MAX, &fd, "fd")) return NULL;
  bool inheritable = false;
  NAPI_CALL(env, napi_get_value_bool(env, argv[1], &inheritable));
  int fl = fcntl((int)fd, F_GETFD);
  if (fl < 0) return throw_errno(env, errno, "fcntl(F_GETFD)");
  fl = inheritable ? (fl & ~FD_CLOEXEC) : (fl | FD_CLOEXEC);
  if (fcntl((int)fd, F_SETFD, fl) != 0) return throw_errno(env, errno, "fcntl(F_SETFD)");
  return NULL;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Module                                                                                                           */

NAPI_MODULE_INIT() {
  env_state *es = calloc(1, sizeof *es);
  if (!es) return NULL;
  pthread_mutex_init(&es->mu, NULL);
  pthread_cond_init(&es->cv, NULL);

  napi_value results, s;
  NAPI_CALL(env, napi_create_array_with_length(env, 3, &results));
  const char *names[3] = {"ok", "not-equal", "timed-out"};
  for (uint32_t i = 0; i < 3; i++) {
    NAPI_CALL(env, napi_create_string_latin1(env, names[i], NAPI_AUTO_LENGTH, &s));
    NAPI_CALL(env, napi_set_element(env, results, i, s));
  }
  NAPI_CALL(env, napi_create_reference(env, results, 1, &es->results));
  napi_value src, noop;
  NAPI_CALL(env, napi_create_string_utf8(env, "(function procqNoop() { return 0; })", NAPI_AUTO_LENGTH, &src));
  NAPI_CALL(env, napi_run_script(env, src, &noop));
  NAPI_CALL(env, napi_create_reference(env, noop, 1, &es->noop));

  napi_value resource_name;
  NAPI_CALL(env, napi_create_string_utf8(env, "procq:futexWaitAsync", NAPI_AUTO_LENGTH, &resource_name));
  NAPI_CALL(env, napi_create_threadsafe_function(env, NULL, NULL, resource_name, 0, 1, es, tsfn_finalize, es,
                                                 call_js, &es->tsfn));
  NAPI_CALL(env, napi_unref_threadsafe_function(env, es->tsfn));
  NAPI_CALL(env, napi_set_instance_data(env, es, NULL, NULL));
  NAPI_CALL(env, napi_add_env_cleanup_hook(env, env_cleanup, es));

  napi_property_descriptor props[] = {
      {"shmCreate", NULL, ShmCreate, NULL, NULL, NULL, napi_enumerable, NULL},
      {"shmOpen", NULL, ShmOpen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"shmUnlink", NULL, ShmUnlink, NULL, NULL, NULL, napi_enumerable, NULL},
      {"shmCommit", NULL, ShmCommit, NULL, NULL, NULL, napi_enumerable, NULL},
      {"futexWait", NULL, FutexWait, NULL, NULL, NULL, napi_enumerable, NULL},
      {"futexWake", NULL, FutexWake, NULL, NULL, NULL, napi_enumerable, NULL},
      {"futexWaitAsync", NULL, FutexWaitAsync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"futexCancel", NULL, FutexCancel, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, Stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gettid", NULL, Gettid, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getppid", NULL, Getppid, NULL, NULL, NULL, napi_enumerable, NULL},
      {"threadAlive", NULL, ThreadAlive, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setParentDeathSignal", NULL, SetParentDeathSignal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"trackerPipe", NULL, TrackerPipe, NULL, NULL, NULL, napi_enumerable, NULL},
      {"shmRelease", NULL, ShmRelease, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setInheritable", NULL, SetInheritable, NULL, NULL, NULL, napi_enumerable, NULL},
      {"threadStartTime", NULL, ThreadStartTime, NULL, NULL, NULL, napi_enumerable, NULL},
      {"exitNow", NULL, ExitNow, NULL, NULL, NULL, napi_enumerable, NULL},
      {"keepLargeAllocationsWarm", NULL, KeepLargeAllocationsWarm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adviseHugeHeap", NULL, AdviseHugeHeap, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  napi_value abi;
  NAPI_CALL(env, napi_create_int32(env, PQ_ABI_VERSION, &abi));
  NAPI_CALL(env, napi_set_named_property(env, exports, "abiVersion", abi));
  return exports;
}
