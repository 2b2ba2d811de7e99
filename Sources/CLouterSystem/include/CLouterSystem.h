#ifndef CLOUTER_SYSTEM_H
#define CLOUTER_SYSTEM_H

// The few Linux calls that Swift's Glibc module does not expose (epoll,
// eventfd, naming a thread). Thin pass-throughs only: all error handling lives in Swift's
// one syscall wrapper.

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int clouter_epoll_create(void);
int clouter_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// Waits for events; fills parallel arrays of event masks and user data.
int clouter_epoll_wait(int epfd, uint32_t *events, uint64_t *datas, int max_events, int timeout_ms);
int clouter_eventfd(void);
/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC (glibc exposes accept4 only with _GNU_SOURCE).
int clouter_accept(int fd);
/// malloc_trim(0): <malloc.h> is not part of Swift's Glibc module.
int clouter_malloc_trim(void);
/// pthread_setname_np on the calling thread (glibc exposes it only with _GNU_SOURCE); at most 15 bytes.
int clouter_name_thread(const char *name);

// The interface of the https library (libLouterHTTPS.so, Sources/LouterHTTPS): URLSession behind
// plain C types, so that the louter binary loads Foundation, libcurl and a TLS library only when an
// https backend is first called (dlopen), not in every process. Both sides are compiled against
// these declarations; CLOUTER_HTTPS_ABI changes whenever they do.
#define CLOUTER_HTTPS_ABI 1

// How an exchange ended (the `kind` of `end`).
#define CLOUTER_HTTPS_FINISHED 0
#define CLOUTER_HTTPS_CONNECT_FAILED 1
#define CLOUTER_HTTPS_TIMED_OUT 2
#define CLOUTER_HTTPS_CANCELLED 3
#define CLOUTER_HTTPS_INVALID_RESPONSE 4
#define CLOUTER_HTTPS_TOO_LARGE 5
#define CLOUTER_HTTPS_CONNECTION_RESET 6

/// What the library reports about one exchange, on its own thread, in order: at most one `head`, any
/// number of `data`, then exactly one `end` (after which `context` is never used again).
typedef struct clouter_https_events {
  void (*head)(void *context, long status, const char *const *names, const char *const *values, long count);
  void (*data)(void *context, const uint8_t *bytes, long length);
  void (*end)(void *context, int kind, const char *detail);
} clouter_https_events;

/// `louter_https_start`: sends a request (method, absolute URL, `count` header pairs, a body, a backstop
/// timeout in whole seconds) and returns the exchange's id (> 0), whose events go to `events` with
/// `context`; or 0, with no events, when the URL is not an absolute http(s) URL.
typedef long (*clouter_https_start_fn)(
  const char *method, const char *url, const char *const *names, const char *const *values, long count,
  const uint8_t *body, long body_length, long timeout_seconds, void *context, const clouter_https_events *events);
/// `louter_https_cancel`: stops an exchange; its `end` still comes.
typedef void (*clouter_https_cancel_fn)(long exchange);
/// `louter_https_abi`: the library's CLOUTER_HTTPS_ABI.
typedef long (*clouter_https_abi_fn)(void);

extern const int clouter_EPOLL_CTL_ADD;
extern const int clouter_EPOLL_CTL_MOD;
extern const int clouter_EPOLL_CTL_DEL;
extern const uint32_t clouter_EPOLLIN;
extern const uint32_t clouter_EPOLLOUT;
extern const uint32_t clouter_EPOLLERR;
extern const uint32_t clouter_EPOLLHUP;
extern const uint32_t clouter_EPOLLRDHUP;
extern const uint32_t clouter_EPOLLET;

#ifdef __cplusplus
}
#endif

#endif
